import NIOCore

/// Timeouts and the end of the run: late answers fail their request, and the run ends once the
/// last due request is answered, or a timeout after it was due.
extension LoadDriver {
    /// Every 50 ms: a request out for longer than the timeout fails and its connection closes
    /// (a late answer could otherwise be taken for the next request's).
    func scheduleSweep() {
        loop.assumeIsolated().scheduleTask(in: .milliseconds(50)) {
            guard !self.finished else { return }
            let now = self.nowNanos()
            for connection in self.connections {
                if case .busy(let due, let sent) = connection.state, now - sent > self.timeoutNanos {
                    self.inFlight -= 1
                    self.fail(due: due, .timeout)
                    connection.state = .closed
                    self.forget(connection)
                    connection.channel?.close(promise: nil)
                }
            }
            self.openIfNeeded()
            self.checkDrained()
            self.scheduleSweep()
        }
    }

    func beginDrain() {
        draining = true
        loop.assumeIsolated().scheduleTask(in: .nanoseconds(timeoutNanos)) { self.finish() }
        checkDrained()
    }

    func checkDrained() {
        if draining && waiting.isEmpty && inFlight == 0 { finish() }
    }

    func finish() {
        guard !finished else { return }
        finished = true
        while let due = waiting.popFirst() { fail(due: due, .unfinished) }
        for connection in connections {
            if case .busy(let due, _) = connection.state { fail(due: due, .unfinished) }
            connection.state = .closed
            connection.channel?.close(promise: nil)
        }
        connections.removeAll()
        idle.removeAll()
        done.succeed(record)
    }
}
