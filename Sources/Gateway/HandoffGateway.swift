import ConnectionHandoff
import Logging
import NIOConcurrencyHelpers
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The gateway in handoff mode: it accepts each client connection and hands the connection
/// itself (its descriptor, over the API's handoff socket) to the API its strategy picks, which
/// then serves it directly. It balances connections rather than requests, and costs nothing per
/// request: a proxy wakes twice per request, and on two shared cores those wake-ups were a quarter
/// of the stack's context switches per payment (1.45 of 6.03 in the final, same session).
///
/// Blocking calls on threads of its own (one accepts, one per API keeps its link and reads its
/// load reports): they run once per connection, never per request, so an event loop would only
/// add wake-ups. The strategies are the proxy's, over each API's open connections (its last
/// report plus those handed since); `least-latency` needs answers this mode never sees. The
/// limits on what a client may hold (connections, idle time, unfinished requests) are the APIs'
/// (`HTTPServer.HandoffSettings`), since they hold the connections.
public final class HandoffGateway: Sendable {
    /// The bound public TCP port (the real one when configured with port 0).
    public let port: Int
    public let configuration: GatewayConfiguration
    private let listener: CInt
    private let links: [HandoffLink]
    private let threads: NIOThreadPool
    private let counters = NIOLockedValueBox(Counters())
    private let isShutDown = NIOLockedValueBox(false)

    /// What the accepting thread did with the connections it accepted.
    public struct Counters: Sendable, Equatable {
        public var handedOver = 0
        /// Answered 503 and closed: no API's link was up.
        public var unavailable = 0
    }

    private init(
        port: Int, configuration: GatewayConfiguration, listener: CInt, links: [HandoffLink], threads: NIOThreadPool
    ) {
        self.port = port
        self.configuration = configuration
        self.listener = listener
        self.links = links
        self.threads = threads
    }

    public static func start(configuration: GatewayConfiguration, logger: Logger) throws -> HandoffGateway {
        guard !configuration.upstreams.isEmpty, configuration.upstreams.count <= 64 else {
            throw GatewayError.invalidConfiguration("between 1 and 64 upstreams are needed")
        }
        guard configuration.strategy != .leastLatency else {
            throw GatewayError.invalidConfiguration(
                "least-latency needs the answers, which handoff mode never sees; use it with proxy mode")
        }
        guard case .tcp(let host, let port) = configuration.listen else {
            throw GatewayError.invalidConfiguration("handoff mode listens on TCP (host:port)")
        }
        let (listener, bound) = try HandoffSocket.listenTCP(host: host, port: port)
        let links = configuration.upstreams.map { HandoffLink(path: $0, logger: logger) }
        let threads = NIOThreadPool(numberOfThreads: 1 + links.count)
        threads.start()
        let gateway = HandoffGateway(
            port: bound, configuration: configuration, listener: listener, links: links, threads: threads)
        for link in links {
            threads.submit { _ in link.run() }
        }
        gateway.startAccepting(configuration.strategy.strategyType, logger: logger)
        return gateway
    }

    /// Each API's link as the balancer sees it.
    public var upstreams: [HandoffLink.Snapshot] { links.map(\.snapshot) }

    public var counted: Counters { counters.withLockedValue { $0 } }

    /// Stops accepting; the links end, so the APIs keep serving the connections they hold and
    /// drain them at their own stop. Nothing here holds a request. Idempotent: the listener's
    /// descriptor is closed once (a second close could hit a socket that reused its number).
    public func shutdown() async {
        guard
            isShutDown.withLockedValue({ done in
                defer { done = true }
                return !done
            })
        else { return }
        HandoffSocket.wake(listener)
        for link in links { link.stop() }
        try? await threads.shutdownGracefully()
        close(listener)
    }

    private func startAccepting<Strategy: BalancingStrategy>(_ type: Strategy.Type, logger: Logger) {
        threads.submit { [self] _ in
            var strategy = Strategy(upstreamCount: links.count, seed: UInt64.random(in: .min ... .max))
            acceptLoop(&strategy, logger: logger)
        }
    }

    private func acceptLoop<Strategy: BalancingStrategy>(_ strategy: inout Strategy, logger: Logger) {
        HandoffSocket.acceptUntilShutDown(listener, logger: logger) { client in
            HandoffSocket.setNoDelay(client)
            handOver(client, strategy: &strategy)
            close(client)
            return true
        }
    }

    /// Hands `client` to an API (the process now holds a copy, so this one's is closed by the
    /// caller either way), or refuses it.
    private func handOver<Strategy: BalancingStrategy>(_ client: CInt, strategy: inout Strategy) {
        let loads = OpenConnections(snapshots: links.map(\.snapshot))
        var candidates = CandidateSet(bits: 0)
        for (index, link) in loads.snapshots.enumerated() where link.isUp {
            candidates.bits |= 1 << UInt64(index)
        }
        while !candidates.isEmpty {
            let index = strategy.pick(from: candidates, loads: loads)
            do {
                try links[index].send(client)
                counters.withLockedValue { $0.handedOver += 1 }
                return
            } catch {
                candidates.remove(index)
            }
        }
        counters.withLockedValue { $0.unavailable += 1 }
        _ = HandoffSocket.sendNow(Self.unavailableAnswer, over: client)
    }

    private static let unavailableAnswer: [UInt8] = {
        let body = #"{"error":"no API instance is up"}"#
        return Array(
            ("HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                + "content-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)").utf8)
    }()
}

/// The open connections of each API, as the strategies read loads.
private struct OpenConnections: UpstreamLoadView {
    let snapshots: [HandoffLink.Snapshot]

    var count: Int { snapshots.count }
    func inFlight(_ index: Int) -> Int { snapshots[index].openConnections }
}
