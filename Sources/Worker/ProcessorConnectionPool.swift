import NIOCore
import NIOPosix

/// Keep-alive HTTP/1.1 connections to one processor, all on one event loop (every method runs
/// there). At most `maxConnections` are open; connections are made only when calls wait, so the
/// pool grows to the concurrency it is actually asked for. Calls beyond that wait in FIFO order,
/// each until its own deadline: one that never got a connection is a definite failure.
final class ProcessorConnectionPool {
    struct Configuration: Sendable {
        var host: String
        var port: Int
        /// Connections open at once at most.
        var maxConnections: Int
        var connectTimeout: TimeAmount = .seconds(1)
        /// A connection idle this long is closed instead of used: a server may be closing it
        /// right then, and a request written into that race would end unknown.
        var maxIdle: TimeAmount = .seconds(20)
    }

    /// A call waiting for a connection.
    final class Waiter {
        let request: ByteBuffer
        let deadline: NIODeadline
        let completion: ProcessorCallCompletion
        var timer: Scheduled<Void>?

        init(request: ByteBuffer, deadline: NIODeadline, completion: @escaping ProcessorCallCompletion) {
            self.request = request
            self.deadline = deadline
            self.completion = completion
        }
    }

    let configuration: Configuration
    let eventLoop: any EventLoop
    let allocator = ByteBufferAllocator()
    /// Free connections, the most recently used last (taken first: it is the least likely to
    /// have been closed by the server).
    private var idle: [ProcessorConnectionHandler] = []
    /// Connections with a call in flight (kept so that `shutdown` can close them).
    private var busy: [ObjectIdentifier: ProcessorConnectionHandler] = [:]
    private var waiting = CircularBuffer<Waiter>()
    /// Connected, busy or idle.
    private(set) var open = 0
    private var connecting = 0
    private var shutDown = false
    /// Connections ever made, and the most open at once (for sizing `maxConnections`).
    private(set) var connectionsMade = 0
    private(set) var peakOpen = 0

    /// The processor's address when its host is an IP literal.
    private let address: SocketAddress?

    init(configuration: Configuration, eventLoop: any EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.address = try? SocketAddress(ipAddress: configuration.host, port: configuration.port)
    }

    /// Sends `request` on a free connection, or once one is free.
    func execute(_ request: ByteBuffer, deadline: NIODeadline) -> EventLoopFuture<ProcessorResponse> {
        let promise = eventLoop.makePromise(of: ProcessorResponse.self)
        execute(request, deadline: deadline) { promise.completeWith($0.mapError { $0 }) }
        return promise.futureResult
    }

    /// Sends `request` on a free connection, or once one is free; `completion` runs on the event
    /// loop with the answer or a `ProcessorCallError`.
    func execute(_ request: ByteBuffer, deadline: NIODeadline, completion: @escaping ProcessorCallCompletion) {
        eventLoop.assertInEventLoop()
        if shutDown {
            completion(.failure(.shutdown))
        } else if waiting.isEmpty, let connection = takeIdle() {
            connection.execute(request, deadline: deadline, completion: completion)
        } else {
            let waiter = Waiter(request: request, deadline: deadline, completion: completion)
            waiter.timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                expire(waiter)
            }
            waiting.append(waiter)
            dispatch()
        }
    }

    /// Closes every connection; waiting calls fail (nothing was sent), in-flight ones end `closed`.
    func shutdown() {
        eventLoop.assertInEventLoop()
        shutDown = true
        failWaiting(.shutdown)
        for connection in idle { connection.close() }
        idle.removeAll()
        for connection in busy.values { connection.close() }
    }

    private func takeIdle() -> ProcessorConnectionHandler? {
        let now = NIODeadline.now()
        while let connection = idle.popLast() {
            if connection.isClosed { continue }
            if now - connection.idleSince > configuration.maxIdle {
                connection.close()
                continue
            }
            busy[ObjectIdentifier(connection)] = connection
            return connection
        }
        return nil
    }

    /// Gives free connections to waiting calls and opens connections for the rest, up to the limit.
    private func dispatch() {
        while !waiting.isEmpty, let connection = takeIdle() {
            let waiter = waiting.removeFirst()
            waiter.timer?.cancel()
            connection.execute(waiter.request, deadline: waiter.deadline, completion: waiter.completion)
        }
        let wanted = min(waiting.count - connecting, configuration.maxConnections - open - connecting)
        if wanted > 0 && !shutDown {
            for _ in 0..<wanted { connect() }
        }
    }

    private func expire(_ waiter: Waiter) {
        guard let index = waiting.firstIndex(where: { $0 === waiter }) else { return }
        waiting.remove(at: index)
        waiter.completion(.failure(.expiredInQueue))
    }

    private func failWaiting(_ error: ProcessorCallError) {
        let failed = waiting
        waiting.removeAll()
        for waiter in failed {
            waiter.timer?.cancel()
            waiter.completion(.failure(error))
        }
    }

    private func connect() {
        connecting += 1
        let handler = NIOLoopBound(ProcessorConnectionHandler(), eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
        // An address literal needs no resolver (which runs getaddrinfo on another thread).
        let connected =
            if let address { bootstrap.connect(to: address) } else {
                bootstrap.connect(host: configuration.host, port: configuration.port)
            }
        connected.assumeIsolated()
            .whenComplete { [self] result in
                connecting -= 1
                switch result {
                case .success(let channel):
                    let connection = handler.value
                    connectionsMade += 1
                    if shutDown || connection.isClosed {
                        channel.close(promise: nil)
                        dispatch()
                        return
                    }
                    open += 1
                    peakOpen = max(peakOpen, open)
                    connection.delegate = self
                    connectionIdle(connection)
                case .failure:
                    // Nobody to wait for: every waiting call fails now, with nothing sent, so it
                    // can go to the other processor at once. Otherwise a connection that frees up
                    // serves them (trying again now could spin against a refusing server).
                    if open == 0 && connecting == 0 { failWaiting(.connectFailed) }
                }
            }
    }
}

extension ProcessorConnectionPool: ProcessorConnectionDelegate {
    func connectionIdle(_ connection: ProcessorConnectionHandler) {
        busy[ObjectIdentifier(connection)] = nil
        if shutDown {
            connection.close()
            return
        }
        idle.append(connection)
        dispatch()
    }

    func connectionClosed(_ connection: ProcessorConnectionHandler) {
        open -= 1
        busy[ObjectIdentifier(connection)] = nil
        if let index = idle.firstIndex(where: { $0 === connection }) { idle.remove(at: index) }
        dispatch()
    }
}
