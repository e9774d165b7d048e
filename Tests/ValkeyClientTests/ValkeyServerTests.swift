import Foundation
import TestSupport
import Testing

@testable import ValkeyClient

@Suite("ValkeyServer test helper")
struct ValkeyServerTests {
    @Test("stop is graceful and quick: the server honours SIGTERM and removes its socket")
    func stopIsQuick() async throws {
        let server = try await ValkeyServer.start()
        #expect(FileManager.default.fileExists(atPath: server.socketPath))
        let start = ContinuousClock.now
        await server.stop()
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
        await server.stop()  // a second stop does nothing
        server.kill()  // nor does a kill of a stopped server
    }

    @Test("with AOF in a given directory, a new server there finds the data")
    func aofInGivenDirectory() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await ValkeyServer.start(aof: true, directory: directory)
        #expect(first.directory == directory)
        try await probeSet(first)
        first.kill()
        let second = try await ValkeyServer.start(aof: true, directory: directory)
        #expect(try await probe(second, "GET", "k") == .string("v"))
        await second.stop()
        #expect(FileManager.default.fileExists(atPath: directory))
    }

    @Test("without AOF nothing is written to the directory but the log")
    func noAOF() async throws {
        let server = try await ValkeyServer.start()
        try await probeSet(server)
        await server.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: server.directory)
        #expect(files == ["valkey.log"])
    }

    private func probeSet(_ server: ValkeyServer) async throws {
        #expect(try await probe(server, "SET", "k", "v") == .string("OK"))
    }
}
