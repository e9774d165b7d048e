import NIOCore
import NIOPosix
import NetworkEndpoint

@testable import Gateway

/// The gateway on port 0 in front of two `TestUpstream`s on temporary Unix sockets, all in
/// this process; `withLiveStack` always tears everything down, test failure or not.
struct LiveStack {
    let group: MultiThreadedEventLoopGroup
    var a: TestUpstream
    var b: TestUpstream
    let server: GatewayServer

    var port: Int { server.port }
}

/// Client sockets block, so they run on these threads rather than on Swift's few cooperative ones.
let blockingPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 8)
    pool.start()
    return pool
}()

func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await blockingPool.runIfActive(body)
}

func withLiveStack(
    strategy: BalancingStrategyKind = .roundRobin,
    configure: (inout GatewayConfiguration) -> Void = { _ in },
    _ body: (LiveStack) async throws -> Void
) async throws {
    let a = try await TestUpstream.start(name: "a")
    let b = try await TestUpstream.start(name: "b")
    var configuration = GatewayConfiguration(upstreams: [a.path, b.path])
    configuration.listen = .tcp(host: "127.0.0.1", port: 0)
    configuration.strategy = strategy
    configuration.shutdownGracePeriod = .seconds(2)
    configure(&configuration)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
    let stack: LiveStack
    do {
        let server = try await GatewayServer.start(configuration: configuration, group: group)
        stack = LiveStack(group: group, a: a, b: b, server: server)
    } catch {
        await a.stop()
        await b.stop()
        try? await group.shutdownGracefully()
        throw error
    }
    var failure: (any Error)?
    do {
        try await body(stack)
    } catch {
        failure = error
    }
    await stack.server.shutdown()
    await a.stop()
    await b.stop()
    try? await group.shutdownGracefully()
    if let failure { throw failure }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func eventually(seconds: Double = 3, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
