import NIOCore
import NIOHTTP1
import NIOPosix

/// Connection events: a request takes a free connection, an answer frees it, a close forgets it,
/// and new connections open while requests wait and the limit allows.
extension LoadDriver {
    /// The connection is free: it takes the oldest waiting request, or rests.
    func becameIdle(_ connection: LoadConnection) {
        if let due = waiting.popFirst() {
            send(due: due, on: connection)
        } else {
            connection.state = .idle
            idle.append(connection)
        }
    }

    /// The whole answer to the connection's request arrived.
    func answered(_ connection: LoadConnection) {
        guard case .busy(let due, let sent) = connection.state else { return }
        inFlight -= 1
        let now = nowNanos()
        if plan.isMeasured(dueNanos: due) {
            record.answered(
                status: connection.status, latencyNanos: now - due, serviceNanos: now - sent,
                second: Int((due - plan.warmupNanos) / 1_000_000_000))
        }
        if now >= plan.warmupNanos && now <= plan.endNanos { record.completedInWindow += 1 }
        if connection.keepAlive && !finished {
            becameIdle(connection)
        } else {
            connection.state = .closed
            forget(connection)
            connection.channel?.close(promise: nil)
            openIfNeeded()
        }
        checkDrained()
    }

    /// The channel went inactive (server close, reset, our own close).
    func closed(_ connection: LoadConnection) {
        switch connection.state {
        case .busy(let due, _):
            inFlight -= 1
            fail(due: due, .closed)
        case .idle, .connecting, .closed:
            break
        }
        connection.state = .closed
        forget(connection)
        openIfNeeded()
        checkDrained()
    }

    func forget(_ connection: LoadConnection) {
        connections.removeAll { $0 === connection }
        idle.removeAll { $0 === connection }
    }

    func openIfNeeded() {
        if !finished && !waiting.isEmpty && connections.count < maxConnections { open() }
    }

    func open() {
        let connection = LoadConnection()
        connections.append(connection)
        record.connectionsOpened += 1
        let boundConnection = NIOLoopBound(connection, eventLoop: loop)
        let boundDriver = NIOLoopBound(self, eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHTTPClientHandlers()
                let handler = ResponseHandler(connection: boundConnection.value, driver: boundDriver.value)
                boundConnection.value.handler = handler
                try sync.addHandler(handler)
            }
        }
        let connect: EventLoopFuture<any Channel>
        switch target {
        case .tcp(let host, let port):
            connect = bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1).connect(
                host: host, port: port)
        case .unix(let path):
            connect = bootstrap.connect(unixDomainSocketPath: path)
        }
        connect.assumeIsolated().whenComplete { result in
            self.connected(connection, result)
        }
    }

    func connected(_ connection: LoadConnection, _ result: Result<any Channel, any Error>) {
        switch result {
        case .success(let channel):
            connection.channel = channel
            guard case .connecting = connection.state else { return }  // closed meanwhile
            if finished {
                connection.state = .closed
                forget(connection)
                channel.close(promise: nil)
                return
            }
            becameIdle(connection)
        case .failure:
            connection.state = .closed
            forget(connection)
            // With no connection left to serve them, the waiting requests would wait forever.
            if connections.isEmpty {
                while let due = waiting.popFirst() { fail(due: due, .connect) }
            }
            checkDrained()
        }
    }
}
