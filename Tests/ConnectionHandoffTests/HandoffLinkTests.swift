import ConnectionHandoff
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Load reports")
struct LoadReportTests {
    @Test("a report split over reads and several in one read give the newest complete count")
    func decoding() {
        var decoder = LoadReportDecoder()
        let first = LoadReport.encode(openConnections: 300)
        let second = LoadReport.encode(openConnections: 7)
        #expect(decoder.feed(first[..<1]) == nil)
        #expect(decoder.feed(first[1...] + second[..<3]) == 300)
        #expect(decoder.feed(second[3...]) == 7)
        #expect(
            decoder.feed(LoadReport.encode(openConnections: 0) + LoadReport.encode(openConnections: 65_536)) == 65_536)
    }

    @Test("counts outside 32 bits are clamped, not wrapped")
    func clamping() {
        var decoder = LoadReportDecoder()
        #expect(LoadReport.encode(openConnections: -1) == [0, 0, 0, 0])
        #expect(decoder.feed(LoadReport.encode(openConnections: Int(UInt32.max) + 5)) == Int(UInt32.max))
    }
}

@Suite("Repeated failures in the log")
struct RepeatedFailureLogTests {
    @Test("the first failure is logged, then one a second with the count left out; a success resets")
    func throttling() {
        var log = RepeatedFailureLog(interval: .seconds(1))
        let start = ContinuousClock.now
        #expect(log.record(at: start) == 0)
        #expect(log.record(at: start + .milliseconds(10)) == nil)
        #expect(log.record(at: start + .milliseconds(500)) == nil)
        #expect(log.record(at: start + .milliseconds(999)) == nil)
        #expect(log.record(at: start + .milliseconds(1000)) == 3)
        #expect(log.record(at: start + .milliseconds(1500)) == nil)
        log.reset()
        #expect(log.record(at: start + .milliseconds(1600)) == 0)
    }
}

@Suite("Handing descriptors over a real Unix socket")
struct HandoffLinkTests {
    static let logger = Logger(label: "handoff-test")

    static func temporaryPath(_ name: String) -> String {
        "/tmp/handoff-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    /// The descriptors a receiver adopted, in order.
    final class Adopted: Sendable {
        let descriptors = NIOLockedValueBox<[CInt]>([])
        var count: Int { descriptors.withLockedValue { $0.count } }
        func add(_ fd: CInt) { descriptors.withLockedValue { $0.append(fd) } }
        func closeAll() {
            descriptors.withLockedValue { all in
                for fd in all { close(fd) }
            }
        }
    }

    /// A link to `path`, kept by a thread of its own until the body ends.
    static func withLink(to path: String, _ body: (HandoffLink) async throws -> Void) async throws {
        let link = HandoffLink(path: path, retryMilliseconds: 10, logger: logger)
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        thread.submit { _ in link.run() }
        try await withCleanup {
            try await body(link)
        } cleanup: {
            link.stop()
            try? await thread.shutdownGracefully()
        }
    }

    /// A connected pair of Unix stream sockets.
    static func socketPair() throws -> (CInt, CInt) {
        var pair: [CInt] = [0, 0]
        try #require(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0, &pair) == 0)
        return (pair[0], pair[1])
    }

    static func write(_ text: String, to fd: CInt) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    static func read(_ fd: CInt) -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return String(decoding: buffer[..<max(0, count)], as: UTF8.self)
    }

    @Test("a descriptor handed over is the same open socket at the receiver, and its load report comes back")
    func handOver() async throws {
        let path = Self.temporaryPath("one")
        let adopted = Adopted()
        let receiver = try HandoffReceiver(path: path, logger: Self.logger) { adopted.add($0) }
        receiver.start()
        try await withCleanup {
            try await Self.withLink(to: path) { link in
                try await eventually { link.snapshot.isUp }
                let (handed, kept) = try Self.socketPair()
                try link.send(handed)
                close(handed)
                try await eventually { adopted.count == 1 }
                let received = try #require(adopted.descriptors.withLockedValue { $0.first })
                Self.write("through the handed socket", to: received)
                #expect(Self.read(kept) == "through the handed socket")
                #expect(link.snapshot.openConnections == 1 && link.snapshot.handedOver == 1)
                #expect(receiver.received == 1)

                receiver.report(openConnections: 0)
                try await eventually { link.snapshot.openConnections == 0 }
                close(kept)
            }
        } cleanup: {
            adopted.closeAll()
            await receiver.stop()
        }
    }

    @Test("a link is down while its receiver is stopped (a send fails) and up again once one binds the path")
    func followsTheReceiver() async throws {
        let path = Self.temporaryPath("restart")
        let adopted = Adopted()
        try await Self.withLink(to: path) { link in
            try await Task.sleep(for: .milliseconds(50))
            #expect(!link.snapshot.isUp)
            let (handed, kept) = try Self.socketPair()
            defer {
                close(handed)
                close(kept)
            }
            #expect(throws: HandoffSocketError.self) { try link.send(handed) }

            let first = try HandoffReceiver(path: path, logger: Self.logger) { adopted.add($0) }
            first.start()
            try await eventually { link.snapshot.isUp }
            try link.send(handed)
            try await eventually { adopted.count == 1 }
            await first.stop()
            try await eventually { !link.snapshot.isUp }
            #expect(link.snapshot.openConnections == 0)

            let second = try HandoffReceiver(path: path, logger: Self.logger) { adopted.add($0) }
            second.start()
            try await eventually { link.snapshot.isUp }
            try link.send(handed)
            try await eventually { adopted.count == 2 }
            await second.stop()
        }
        adopted.closeAll()
    }

    @Test("a second stop closes nothing: the descriptors opened after the first stay open")
    func stopTwice() async throws {
        let receiver = try HandoffReceiver(path: Self.temporaryPath("twice"), logger: Self.logger) { close($0) }
        receiver.start()
        await receiver.stop()
        // The lowest free numbers: the listener's, freed by the first stop, most likely among them.
        let pairs = try (0..<4).map { _ in try Self.socketPair() }
        await receiver.stop()
        for (one, other) in pairs {
            Self.write("still open", to: one)
            #expect(Self.read(other) == "still open")
            close(one)
            close(other)
        }
    }

    @Test("a byte that carries no descriptor is skipped, and the next descriptor still arrives")
    func byteWithoutDescriptor() async throws {
        let path = Self.temporaryPath("garbage")
        let adopted = Adopted()
        let receiver = try HandoffReceiver(path: path, logger: Self.logger) { adopted.add($0) }
        receiver.start()
        let link = try HandoffSocket.connectUnix(path: path)
        let (handed, kept) = try Self.socketPair()
        Self.write("x", to: link)
        try HandoffSocket.send(descriptor: handed, over: link)
        try await eventually { adopted.count == 1 }
        #expect(receiver.received == 1)
        close(link)
        close(handed)
        close(kept)
        adopted.closeAll()
        await receiver.stop()
    }
}
