import NIOCore
import TestSupport
import Testing

@testable import ValkeyClient

@Suite("ValkeyClient against a real valkey-server")
struct ValkeyClientLiveTests {
    @Test("SET, GET, INCR and DEL give Valkey's replies")
    func basics() async throws {
        try await withValkey { (_, client) async throws in
            #expect(try await client.call("SET", "k", "v") == .string("OK"))
            #expect(try await client.call("GET", "k") == .string("v"))
            #expect(try await client.call("GET", "missing") == .null)
            #expect(try await client.call("INCR", "n") == .integer(1))
            #expect(try await client.call("INCRBY", "n", "41") == .integer(42))
            #expect(try await client.call("DEL", "k", "n", "missing") == .integer(2))
            #expect(try await client.call("RPUSH", "l", "a", "", "é") == .integer(3))
            #expect(
                try await client.call("LRANGE", "l", "0", "-1")
                    == .array([.string("a"), .string(""), .string("é")]))
            #expect(try await client.call("LRANGE", "nothing", "0", "-1") == .array([]))
            #expect(try await client.call("MGET", "l2", "missing") == .array([.null, .null]))
        }
    }

    @Test("values are binary-safe and may be large")
    func values() async throws {
        try await withValkey { (_, client) async throws in
            for value in ["", "a\r\nb", "€ é 👍🏽", String(repeating: "x", count: 1_000_000)] {
                _ = try await client.call("SET", "k", value)
                #expect(try await client.call("GET", "k") == .string(value))
            }
        }
    }

    @Test("an error reply is a .error value from send and a server error from call")
    func errorReply() async throws {
        try await withValkey { (_, client) async throws in
            _ = try await client.call("SET", "k", "not a number")
            let reply = try await client.send("INCR", "k").get()
            #expect(reply == .error("ERR value is not an integer or out of range"))
            let error = await failure { try await client.call("INCR", "k") }
            #expect(error as? ValkeyError == .server("ERR value is not an integer or out of range"))
            guard case .error(let message) = try await client.send("NOSUCHCOMMAND").get() else {
                Issue.record("expected an error reply")
                return
            }
            #expect(message.hasPrefix("ERR unknown command"))
            // The connection is still good afterwards.
            #expect(try await client.call("PING") == .string("PONG"))
        }
    }

    @Test("10,000 pipelined commands are answered in order")
    func pipelined() async throws {
        try await withValkey { (_, client) async throws in
            let futures = (1...10_000).map { i in
                i % 2 == 0 ? client.send("INCR", "counter") : client.send("ECHO", "echo-\(i)")
            }
            var expectedCounter: Int64 = 0
            for (k, future) in futures.enumerated() {
                let i = k + 1
                let reply = try await future.get()
                if i % 2 == 0 {
                    expectedCounter += 1
                    #expect(reply == .integer(expectedCounter))
                } else {
                    #expect(reply == .string("echo-\(i)"))
                }
            }
        }
    }

    @Test("commands from many concurrent tasks each get their own reply")
    func concurrentTasks() async throws {
        try await withValkey { (_, client) async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        for n in 1...40 {
                            async let echo = client.call("ECHO", "t\(task)-\(n)")
                            async let own = client.call("INCR", "own-\(task)")
                            async let shared = client.call("INCR", "shared")
                            #expect(try await echo == .string("t\(task)-\(n)"))
                            #expect(try await own == .integer(Int64(n)))
                            _ = try await shared
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.call("GET", "shared") == .string("2000"))
        }
    }

    @Test("after the server restarts, the next command succeeds on a new connection")
    func reconnectAfterRestart() async throws {
        try await withValkey { (server, client) async throws in
            #expect(try await client.call("SET", "k", "v") == .string("OK"))
            await server.stop()
            // A command written before the client has seen the close would fail with
            // connectionLost (never retried: it may have run); wait until it has seen it.
            try await eventually { try await !client.isConnected.get() }
            try await server.restart()
            #expect(try await client.call("PING") == .string("PONG"))
            // No AOF: the data went with the old process.
            #expect(try await client.call("GET", "k") == .null)
        }
    }

    @Test("with AOF, data survives a restart and even a SIGKILL")
    func aofRestart() async throws {
        try await withValkey(aof: true) { (server, client) async throws in
            _ = try await client.call("SET", "k", "v")
            await server.stop()
            try await eventually { try await !client.isConnected.get() }
            try await server.restart()
            #expect(try await client.call("GET", "k") == .string("v"))
            _ = try await client.call("SET", "k", "w")
            server.kill()
            try await eventually { try await !client.isConnected.get() }
            try await server.restart()
            #expect(try await client.call("GET", "k") == .string("w"))
        }
    }

    @Test(
        "while the server is down a command fails with unavailable once waitForConnection has passed")
    func unavailableWhileDown() async throws {
        try await withValkey(waitForConnection: .milliseconds(200)) {
            (server, client) async throws in
            _ = try await client.call("PING")
            await server.stop()
            try await eventually { try await !client.isConnected.get() }
            let start = ContinuousClock.now
            let error = await failure { try await client.call("PING") }
            let waited = ContinuousClock.now - start
            #expect(error as? ValkeyError == .unavailable)
            #expect(waited >= .milliseconds(190))
            #expect(waited < .seconds(2))
            // And it recovers once the server is back.
            try await server.restart()
            #expect(try await client.call("PING") == .string("PONG"))
        }
    }

    @Test("a command sent while the server is down succeeds if it comes back before the deadline")
    func waitsForConnection() async throws {
        try await withValkey(waitForConnection: .seconds(5)) {
            (server, client) async throws in
            _ = try await client.call("PING")
            await server.stop()
            try await eventually { try await !client.isConnected.get() }
            let pending = client.send("PING")
            try await server.restart()
            #expect(try await pending.get() == .string("PONG"))
        }
    }

    @Test("beyond maxWaiting, commands waiting for a connection fail at once with unavailable")
    func maxWaiting() async throws {
        try await withValkey(waitForConnection: .seconds(5), maxWaiting: 2) { (server, client) async throws in
            _ = try await client.call("PING")
            await server.stop()
            try await eventually { try await !client.isConnected.get() }
            let first = client.send("PING")
            let second = client.send("PING")
            let third = await failure { try await client.send("PING").get() }
            #expect(third as? ValkeyError == .unavailable)
            try await server.restart()
            #expect(try await first.get() == .string("PONG"))
            #expect(try await second.get() == .string("PONG"))
        }
    }

    @Test("a command in flight when the server dies fails with connectionLost")
    func inFlightWhenKilled() async throws {
        try await withValkey { (server, client) async throws in
            let blocked = client.send("BLPOP", "never", "0")
            try await waitForBlocked(server, "blpop")
            server.kill()
            let error = await failure { try await blocked.get() }
            #expect(error as? ValkeyError == .connectionLost)
        }
    }

    @Test("close() fails commands waiting for a connection and every later send with closed")
    func closeFailsLaterSends() async throws {
        let server = try await ValkeyServer.start()
        let client = makeClient(server, configure: { $0.waitForConnection = .seconds(5) })
        _ = try await client.call("PING")
        await server.stop()
        try await eventually { try await !client.isConnected.get() }
        let waiting = client.send("PING")
        await client.close()
        #expect(await failure { try await waiting.get() } as? ValkeyError == .closed)
        #expect(await failure { try await client.call("PING") } as? ValkeyError == .closed)
        try await server.restart()
        #expect(await failure { try await client.call("PING") } as? ValkeyError == .closed)
        await server.stop()
    }

    @Test("close() fails a command in flight with connectionLost")
    func closeInFlight() async throws {
        let server = try await ValkeyServer.start()
        let client = makeClient(server)
        let blocked = client.send("BLPOP", "never", "0")
        try await waitForBlocked(server, "blpop")
        await client.close()
        #expect(await failure { try await blocked.get() } as? ValkeyError == .connectionLost)
        #expect(try await !client.isConnected.get())
        await server.stop()
    }
}
