import NIOCore
import NIOPosix
import NetworkEndpoint
import TestSupport

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

func withLiveStack(
    strategy: BalancingStrategyKind = .roundRobin,
    configure: (inout GatewayConfiguration) -> Void = { _ in },
    body: (LiveStack) async throws -> Void
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
    try await withCleanup {
        try await body(stack)
    } cleanup: {
        await stack.server.shutdown()
        await a.stop()
        await b.stop()
        try? await group.shutdownGracefully()
    }
}
