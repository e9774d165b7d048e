import Logging
import NIOCore
import NIOPosix
import NetworkEndpoint

/// How a `ValkeyClient` connects and waits. Times are NIO `TimeAmount`s.
public struct ValkeyConfiguration: Sendable {
    public var endpoint: Endpoint
    /// How long one connection attempt may take.
    public var connectTimeout: TimeAmount = .milliseconds(500)
    /// How long a command waits for a connection while Valkey is unreachable before it fails
    /// with `unavailable` (it was never sent).
    public var waitForConnection: TimeAmount = .seconds(1)
    /// At most this many commands wait for a connection; more fail at once.
    public var maxWaiting: Int = 20_000
    /// Reconnect backoff: doubles from `initialBackoff` up to `maxBackoff`.
    public var initialBackoff: TimeAmount = .milliseconds(10)
    public var maxBackoff: TimeAmount = .milliseconds(500)

    public init(endpoint: Endpoint) { self.endpoint = endpoint }
}

/// A pipelined connection to Valkey that reconnects by itself.
///
/// All state lives on one event loop; `send` may be called from anywhere. Commands sent from
/// that loop in one tick go out in one write (pipelining without waiting). A command is never
/// retried by the client: after `connectionLost` it may have run, and only the caller knows
/// whether running it again is safe. The event loop's thread never blocks: sockets are NIO's.
public final class ValkeyClient: @unchecked Sendable {
    public let eventLoop: any EventLoop
    private let configuration: ValkeyConfiguration
    private let logger: Logger

    // Confined to `eventLoop`.
    private var channel: (any Channel)?
    /// The connection's RESP handler, where commands are sent (see `RESPChannelHandler.send`).
    private var handler: RESPChannelHandler?
    private var connecting = false
    private var closed = false
    private var flushScheduled = false
    private var backoff: TimeAmount
    private var waiting = CircularBuffer<(RESPCommand, ReplyWaiter, NIODeadline)>()
    private var expiryTimer: Scheduled<Void>?
    private var reconnectTimer: Scheduled<Void>?
    private var wasConnected = false

    public init(configuration: ValkeyConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.backoff = configuration.initialBackoff
        eventLoop.execute { self.connect() }
    }

    /// Sends one command; the future holds its reply (an error reply is a `.error` value).
    public func send(_ command: RESPCommand) -> EventLoopFuture<RESPValue> {
        let promise = eventLoop.makePromise(of: RESPValue.self)
        if eventLoop.inEventLoop {
            sendOnLoop(command, .promise(promise))
        } else {
            eventLoop.execute { self.sendOnLoop(command, .promise(promise)) }
        }
        return promise.futureResult
    }

    /// Sends one command; `onReply` runs on `eventLoop` with its reply (an error reply is a
    /// `.error` value), in the tick the reply is read. Without a future per call: for the
    /// request path, where each allocation and each completion counts (called from elsewhere,
    /// it hops first).
    public func send(_ command: RESPCommand, onReply: @escaping @Sendable (Result<RESPValue, any Error>) -> Void) {
        if eventLoop.inEventLoop {
            sendOnLoop(command, .callback(onReply))
        } else {
            eventLoop.execute { self.sendOnLoop(command, .callback(onReply)) }
        }
    }

    public func send(_ arguments: String...) -> EventLoopFuture<RESPValue> { send(RESPCommand(arguments)) }

    /// Sends one command and throws `ValkeyError.server` for an error reply.
    public func call(_ command: RESPCommand) async throws -> RESPValue {
        let reply = try await send(command).get()
        if case .error(let message) = reply { throw ValkeyError.server(message) }
        return reply
    }

    public func call(_ arguments: String...) async throws -> RESPValue { try await call(RESPCommand(arguments)) }

    /// Whether a connection is up right now (a hint: it may drop the next moment).
    public var isConnected: EventLoopFuture<Bool> {
        eventLoop.submit { self.channel?.isActive ?? false }
    }

    /// Closes the connection; commands waiting or in flight fail.
    public func close() async {
        try? await eventLoop.submit { () -> EventLoopFuture<Void> in
            self.closed = true
            self.reconnectTimer?.cancel()
            self.expiryTimer?.cancel()
            while let (_, waiter, _) = self.waiting.popFirst() { waiter.complete(.failure(ValkeyError.closed)) }
            guard let channel = self.channel else { return self.eventLoop.makeSucceededVoidFuture() }
            return channel.close().recover { _ in }
        }.flatMap { $0 }.get()
    }

    private func sendOnLoop(_ command: RESPCommand, _ waiter: ReplyWaiter) {
        if closed {
            waiter.complete(.failure(ValkeyError.closed))
            return
        }
        if let channel, let handler, channel.isActive {
            // Unwritable: Valkey stopped reading (stalled). Commands would pile up in memory
            // with no answer coming; refuse them at once instead, so memory stays bounded and
            // callers fall back (503, retry later).
            guard channel.isWritable else {
                waiter.complete(.failure(ValkeyError.unavailable))
                return
            }
            write(command, waiter, to: handler)
            return
        }
        guard waiting.count < configuration.maxWaiting else {
            waiter.complete(.failure(ValkeyError.unavailable))
            return
        }
        waiting.append((command, waiter, .now() + configuration.waitForConnection))
        scheduleExpiry()
        if !connecting && reconnectTimer == nil { connect() }
    }

    private func write(_ command: RESPCommand, _ waiter: ReplyWaiter, to handler: RESPChannelHandler) {
        handler.send(command, waiter)
        if !flushScheduled {
            flushScheduled = true
            // Flush once per event-loop tick: commands issued in the same tick share one syscall.
            eventLoop.execute {
                self.flushScheduled = false
                self.handler?.flush()
            }
        }
    }

    private func scheduleExpiry() {
        guard expiryTimer == nil, let first = waiting.first else { return }
        expiryTimer = eventLoop.scheduleTask(deadline: first.2) {
            self.expiryTimer = nil
            let now = NIODeadline.now()
            while let head = self.waiting.first, head.2 <= now {
                self.waiting.removeFirst()
                head.1.complete(.failure(ValkeyError.unavailable))
            }
            self.scheduleExpiry()
        }
    }

    private func connect() {
        guard !closed, !connecting, channel == nil else { return }
        connecting = true
        reconnectTimer = nil
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            // Well above what a busy pipeline keeps unsent in one tick, well below what matters
            // for memory: past it the connection counts as stalled (see `sendOnLoop`).
            .channelOption(.writeBufferWaterMark, value: .init(low: 512 * 1024, high: 2 * 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RESPChannelHandler())
                }
            }
        let future: EventLoopFuture<any Channel>
        switch configuration.endpoint {
        case .tcp(let host, let port):
            future = bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1).connect(host: host, port: port)
        case .unix(let path):
            future = bootstrap.connect(unixDomainSocketPath: path)
        }
        future.hop(to: eventLoop).whenComplete { result in
            self.connecting = false
            switch result {
            case .success(let channel):
                if self.closed {
                    channel.close(promise: nil)
                    return
                }
                guard let handler = try? channel.pipeline.syncOperations.handler(type: RESPChannelHandler.self) else {
                    channel.close(promise: nil)
                    self.scheduleReconnect()
                    return
                }
                self.channel = channel
                self.handler = handler
                self.backoff = self.configuration.initialBackoff
                if self.wasConnected {
                    self.logger.info("valkey reconnected", metadata: ["endpoint": "\(self.configuration.endpoint)"])
                }
                self.wasConnected = true
                channel.closeFuture.hop(to: self.eventLoop).whenComplete { _ in self.connectionClosed(channel) }
                while let (command, waiter, _) = self.waiting.popFirst() { self.write(command, waiter, to: handler) }
            case .failure(let error):
                self.logger.debug(
                    "valkey connect failed",
                    metadata: ["endpoint": "\(self.configuration.endpoint)", "error": "\(error)"])
                self.scheduleReconnect()
            }
        }
    }

    private func connectionClosed(_ closedChannel: any Channel) {
        guard channel === closedChannel else { return }
        channel = nil
        handler = nil
        if !closed {
            logger.warning("valkey connection lost", metadata: ["endpoint": "\(configuration.endpoint)"])
            connect()
        }
    }

    private func scheduleReconnect() {
        guard !closed, reconnectTimer == nil else { return }
        let delay = backoff
        backoff = min(backoff * 2, configuration.maxBackoff)
        reconnectTimer = eventLoop.scheduleTask(in: delay) { self.connect() }
    }
}
