import NIOCore
import NIOPosix

/// The keep-alive connections of one event loop to every upstream, and the strategy that picks
/// among them. Client connections use the pool of their own loop, so a request never changes
/// thread. Only touched on `eventLoop`.
final class UpstreamPool<Strategy: BalancingStrategy> {
    let eventLoop: any EventLoop
    let table: UpstreamTable
    let configuration: GatewayConfiguration
    private var strategy: Strategy
    /// Bytes held by the client connections of this loop for requests not yet forwarded
    /// (`GatewayConfiguration.maxBufferedRequestBytes` bounds it).
    var bufferedRequestBytes = 0
    /// Idle connections per upstream; the most recently used is reused first, so that surplus
    /// connections stay idle (and are trimmed) instead of all being kept warm.
    private var idle: [[UpstreamConnectionHandler<Strategy>]]
    /// Made on first use: `ClientBootstrap` refuses event loops that are not NIOPosix ones,
    /// and tests run pools on an `EmbeddedEventLoop` with `channelFactory` set instead.
    private lazy var bootstrap = ClientBootstrap(group: eventLoop)
        .connectTimeout(configuration.upstreamConnectTimeout)
    /// Replaces the Unix socket connect (tests: embedded channels).
    var channelFactory: ((_ index: Int) -> EventLoopFuture<any Channel>)?

    init(
        eventLoop: any EventLoop, table: UpstreamTable, configuration: GatewayConfiguration,
        seed: UInt64
    ) {
        self.eventLoop = eventLoop
        self.table = table
        self.configuration = configuration
        strategy = Strategy(upstreamCount: table.count, seed: seed)
        idle = Array(repeating: [], count: table.count)
    }

    /// Sends `request` to an upstream the strategy picks; `receiver` gets the outcome. An
    /// upstream that cannot be connected to is ejected and the next candidate tried: nothing
    /// was written yet, so that is safe even for a payment.
    func forward(
        _ request: ByteBuffer, requestIsHead: Bool, to receiver: any UpstreamResponseReceiver
    ) {
        let now = NIODeadline.now().uptimeNanoseconds
        forward(
            request, requestIsHead: requestIsHead, to: receiver, candidates: table.candidates(now: now))
    }

    private func forward(
        _ request: ByteBuffer,
        requestIsHead: Bool,
        to receiver: any UpstreamResponseReceiver,
        candidates: CandidateSet
    ) {
        guard !candidates.isEmpty else {
            receiver.upstreamFailed(.unavailable)
            return
        }
        let index = strategy.pick(from: candidates, loads: table)
        table.requestStarted(index)
        while let connection = idle[index].popLast() {
            if connection.isReusable {
                connection.send(request, requestIsHead: requestIsHead, to: receiver)
                return
            }
        }
        connect(index).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                connection.send(request, requestIsHead: requestIsHead, to: receiver)
            case .failure:
                self.table.requestFailed(
                    index, connectionRefused: true, now: NIODeadline.now().uptimeNanoseconds)
                var rest = candidates
                rest.remove(index)
                rest.bits &= self.table.candidates(now: NIODeadline.now().uptimeNanoseconds).bits
                self.forward(request, requestIsHead: requestIsHead, to: receiver, candidates: rest)
            }
        }
    }

    private func connect(_ index: Int) -> EventLoopFuture<UpstreamConnectionHandler<Strategy>> {
        let channel =
            channelFactory?(index) ?? bootstrap.connect(unixDomainSocketPath: table.upstreams[index].path)
        return channel.assumeIsolated().flatMapThrowing {
            channel in
            let handler = UpstreamConnectionHandler(pool: self, index: index)
            try channel.pipeline.syncOperations.addHandler(handler)
            return handler
        }.nonisolated()
    }

    /// A connection finished its exchange: back to the idle list, or closed if there are enough.
    func release(_ connection: UpstreamConnectionHandler<Strategy>, index: Int) {
        if idle[index].count < configuration.maxIdleConnectionsPerUpstream {
            idle[index].append(connection)
        } else {
            connection.close()
        }
    }

    func exchangeSucceeded(index: Int, latencyNanoseconds: Int64) {
        table.requestSucceeded(index)
        strategy.observe(upstream: index, latencyNanoseconds: latencyNanoseconds)
    }

    func exchangeFailed(index: Int) {
        table.requestFailed(index, connectionRefused: false, now: NIODeadline.now().uptimeNanoseconds)
    }

    /// Closes every idle connection (at shutdown).
    func closeIdleConnections() {
        for list in idle {
            for connection in list { connection.close() }
        }
        idle = Array(repeating: [], count: table.count)
    }
}
