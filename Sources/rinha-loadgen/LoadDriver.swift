import NIOCore
import NetworkEndpoint

/// One thread's share of the load: its arrival timer, its connections and the requests waiting
/// for one. It lives on one event loop and is touched only there, so it needs no locks.
///
/// A request due at time t is issued at t whatever happened before (open loop). It takes an idle
/// connection if there is one; otherwise it waits in `waiting`, and a new connection is opened
/// if fewer than `maxConnections` exist. Its latency always runs from t, so a wait for a
/// connection, or a late timer, counts against the server rather than vanishing.
final class LoadDriver {
    let loop: any EventLoop
    let target: Endpoint
    let plan: ArrivalPlan
    let template: RequestTemplate
    let maxConnections: Int
    /// The common start of every thread; due times are ns after it.
    let start: NIODeadline
    let timeoutNanos: Int64

    var record: RunRecord
    var uuids = RandomUUID()
    var next = 0
    /// Due times of issued requests that wait for a connection, oldest first.
    var waiting = CircularBuffer<Int64>(initialCapacity: 64)
    /// Idle connections; the last one (most recently used) is taken first.
    var idle: [LoadConnection] = []
    /// Every connection not yet closed, connecting or open.
    var connections: [LoadConnection] = []
    var inFlight = 0
    var draining = false
    var finished = false
    let done: EventLoopPromise<RunRecord>

    init(configuration c: LoadConfiguration, thread: Int, start: NIODeadline, loop: any EventLoop) {
        self.loop = loop
        self.target = c.target
        self.plan = ArrivalPlan(configuration: c, thread: thread)
        self.template = RequestTemplate(
            method: c.method, path: c.path, bodyTemplate: c.bodyTemplate, host: c.target.hostHeader)
        self.maxConnections = max(1, (c.connections + c.threads - 1 - thread) / c.threads)
        self.start = start
        self.timeoutNanos = Int64(c.timeout * 1e9)
        self.record = RunRecord(maxSamples: max(1, c.maxSamples / c.threads), expected: plan.count)
        self.done = loop.makePromise()
    }

    /// Starts the run; must be called on `loop`. Completes when the last answer is in (or late).
    func run() -> EventLoopFuture<RunRecord> {
        loop.preconditionInEventLoop()
        if plan.count == 0 {
            done.succeed(record)
        } else {
            scheduleTick()
            scheduleSweep()
        }
        return done.futureResult
    }

    func nowNanos() -> Int64 { (NIODeadline.now() - start).nanoseconds }

    // MARK: Arrivals

    func scheduleTick() {
        let due = plan.dueNanos(next)
        loop.assumeIsolated().scheduleTask(deadline: start + .nanoseconds(due)) { self.tick() }
    }

    /// Issues every request due by now (several if the timer fired late), then sleeps until the
    /// next one is due.
    func tick() {
        guard !finished else { return }
        let now = nowNanos()
        while next < plan.count {
            let due = plan.dueNanos(next)
            if due > now { break }
            next += 1
            issue(due: due)
        }
        if next < plan.count {
            scheduleTick()
        } else {
            beginDrain()
        }
    }

    func issue(due: Int64) {
        if plan.isMeasured(dueNanos: due) {
            record.scheduled += 1
        } else {
            record.warmupRequests += 1
        }
        if let connection = idle.popLast() {
            send(due: due, on: connection)
        } else {
            waiting.append(due)
            if connections.count < maxConnections { open() }
        }
    }

    func send(due: Int64, on connection: LoadConnection) {
        connection.state = .busy(due: due, sent: nowNanos())
        connection.status = 0
        connection.keepAlive = true
        inFlight += 1
        let body = template.makeBody(allocator: connection.channel!.allocator, uuids: &uuids)
        connection.handler!.send(head: template.head, body: body)
    }

    func fail(due: Int64, _ failure: RunRecord.Failure) {
        if plan.isMeasured(dueNanos: due) { record.fail(failure) }
    }
}
