import Logging
import NIOCore
import NIOPosix
import PaymentCore
import PaymentStore
import TestSupport
import Testing

@testable import ValkeyClient

/// A client on the server's socket. Each live test gets its own event loop (see `withValkey`) so
/// that a test flooding its loop does not delay another test's timers.
func makeClient(
    _ server: ValkeyServer,
    on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
    configure: (inout ValkeyConfiguration) -> Void = { _ in }
) -> ValkeyClient {
    var configuration = ValkeyConfiguration(endpoint: .unix(path: server.socketPath))
    configuration.maxBackoff = .milliseconds(50)
    configure(&configuration)
    return ValkeyClient(
        configuration: configuration, eventLoop: eventLoop, logger: Logger(label: "valkey-test"))
}

/// Starts a server, an event loop and a client for one test, runs `body`, then closes all three
/// even if it threw.
func withValkey(
    aof: Bool = false, waitForConnection: TimeAmount? = nil, maxWaiting: Int? = nil,
    _ body: (ValkeyServer, ValkeyClient) async throws -> Void
) async throws {
    let server = try await ValkeyServer.start(aof: aof)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let client = makeClient(server, on: group.next()) {
        if let waitForConnection { $0.waitForConnection = waitForConnection }
        if let maxWaiting { $0.maxWaiting = maxWaiting }
    }
    var failure: (any Error)?
    do {
        try await body(server, client)
    } catch {
        failure = error
    }
    await client.close()
    await server.stop()
    try? await group.shutdownGracefully()
    if let failure { throw failure }
}

/// A store on its own server, under a key prefix of its own. The retention defaults to ten
/// years, so that payments booked at fixed dates in the past stay exact to the millisecond.
func withStore(
    retention: Retention = Retention(millis: 10 * 365 * 86_400_000), _ body: (PaymentStore) async throws -> Void
) async throws {
    try await withValkey { (_, client) async throws in
        try await body(
            PaymentStore(
                client: client, keys: StoreKeys(prefix: "t\(UInt32.random(in: 0...UInt32.max))"), retention: retention)
        )
    }
}

/// Waits (bounded) until `condition` holds; live tests only.
func eventually(
    within: Duration = .seconds(3), _ condition: () async throws -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("condition not met within \(within)", sourceLocation: sourceLocation)
}

/// A random lower-case UUID, like the ones clients send.
func newID<G: RandomNumberGenerator>(using rng: inout G) -> String {
    let hex = Array("0123456789abcdef")
    var out = ""
    for k in 0..<32 {
        if k == 8 || k == 12 || k == 16 || k == 20 { out.append("-") }
        out.append(hex[Int.random(in: 0..<16, using: &rng)])
    }
    return out
}

func newID() -> String {
    var rng = SystemRandomNumberGenerator()
    return newID(using: &rng)
}

/// The error a failed future or call carried, if any.
func failure<T>(_ body: () async throws -> T) async -> (any Error)? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

/// SplitMix64: a deterministic generator, so a failing property test fails the same way on
/// every run (the seed is in the test).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
