import HTTPWire
import NIOCore

/// The life of one client connection, apart from any channel: which requests it may read,
/// whether an answer keeps it open, and when its timeouts expire. One request is handled at a
/// time; pipelined requests wait unprocessed, which keeps answers in order.
struct ClientConnectionStateMachine {
    enum State: Equatable {
        /// Between requests since `since`: closed if nothing comes within the idle timeout.
        case idle(since: NIODeadline)
        /// Part of a request arrived at `since`: the rest must come within the header timeout.
        case reading(since: NIODeadline)
        /// The request is at an upstream; the client's next bytes wait unprocessed.
        case forwarding(keepAlive: Bool, isHTTP10: Bool)
        case closed
    }

    enum ResponseAction: Equatable {
        /// Write the answer; close the connection after it unless `keepAlive`.
        case write(keepAlive: Bool, isHTTP10: Bool)
        /// The client is gone: nothing to do.
        case drop
    }

    enum TimerAction: Equatable {
        case close
        /// Look again at that time. Never further than `checkInterval` away, so a deadline set
        /// later (a request starting) is seen in time without re-arming a timer per request.
        case check(at: NIODeadline)
        case stop
    }

    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    private(set) var state: State
    private(set) var quiescing = false

    init(now: NIODeadline, headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        state = .idle(since: now)
    }

    var checkInterval: TimeAmount { min(headerTimeout, idleTimeout) }

    /// Whether the connection may process the client's bytes now.
    var isReceiving: Bool {
        switch state {
        case .idle, .reading: true
        case .forwarding, .closed: false
        }
    }

    /// Between requests: nothing of the next one received yet.
    var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    mutating func receivedPartialRequest(now: NIODeadline) {
        if case .idle = state { state = .reading(since: now) }
    }

    mutating func receivedRequest(_ head: RequestHead) {
        guard isReceiving else { return }
        state = .forwarding(keepAlive: head.keepAlive, isHTTP10: head.isHTTP10)
    }

    /// The request is refused; the caller answers with its status and closes.
    mutating func refusedRequest() { state = .closed }

    /// An answer for the request in progress is ready (from the upstream or an error of ours).
    mutating func answerReady(now: NIODeadline) -> ResponseAction {
        guard case .forwarding(let keepAlive, let isHTTP10) = state else { return .drop }
        let keep = keepAlive && !quiescing
        state = keep ? .idle(since: now) : .closed
        return .write(keepAlive: keep, isHTTP10: isHTTP10)
    }

    mutating func timerFired(now: NIODeadline) -> TimerAction {
        let deadline: NIODeadline
        switch state {
        case .idle(let since): deadline = since + idleTimeout
        case .reading(let since): deadline = since + headerTimeout
        case .forwarding: return .check(at: now + checkInterval)
        case .closed: return .stop
        }
        if now >= deadline {
            state = .closed
            return .close
        }
        return .check(at: min(deadline, now + checkInterval))
    }

    /// The server is shutting down: returns true if the connection should close now; otherwise
    /// it closes after the answer to the request in progress.
    mutating func quiesce() -> Bool {
        quiescing = true
        if case .idle = state {
            state = .closed
            return true
        }
        return false
    }

    mutating func channelClosed() { state = .closed }
}
