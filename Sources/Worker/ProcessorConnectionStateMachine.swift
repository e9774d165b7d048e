import NIOCore

/// One keep-alive connection to a processor, as actions for its channel handler: at most one
/// call at a time (no pipelining, so a call that times out never makes another ambiguous), and a
/// connection whose answer was late, malformed or followed by stray bytes is never used again.
struct ProcessorConnectionStateMachine {
    enum Action: Equatable {
        case none
        /// Write the call's request and flush.
        case write
        /// The call is answered; the connection is idle and reusable.
        case succeed(ProcessorResponse)
        /// The call is answered; close the connection.
        case succeedAndClose(ProcessorResponse)
        /// The call failed; close the connection.
        case failAndClose(ProcessorCallError)
        /// Close the connection; no call is in flight.
        case close
        /// Refuse a new call without touching the connection (it is closed).
        case reject(ProcessorCallError)
    }

    enum State: Equatable {
        case idle
        case inFlight
        case closed
    }

    private(set) var state = State.idle
    /// Whether the in-flight call's write completed (its bytes are with the kernel).
    private var written = false
    /// Every byte of the in-flight call's answer so far.
    private var received: ByteBuffer?
    private var framer = ProcessorResponseFramer()

    mutating func send() -> Action {
        switch state {
        case .idle:
            state = .inFlight
            written = false
            received = nil
            framer = ProcessorResponseFramer()
            return .write
        case .inFlight:
            preconditionFailure("a second call on a busy processor connection")
        case .closed:
            return .reject(.notWritten)
        }
    }

    mutating func writeSucceeded() {
        if state == .inFlight { written = true }
    }

    mutating func writeFailed() -> Action {
        guard state == .inFlight else { return .none }
        state = .closed
        return .failAndClose(written || received != nil ? .closed : .notWritten)
    }

    mutating func read(_ buffer: ByteBuffer) -> Action {
        switch state {
        case .idle:
            // Bytes nobody asked for: the connection's framing can no longer be trusted.
            state = .closed
            return .close
        case .closed:
            return .none
        case .inFlight:
            if received == nil {
                received = buffer
            } else {
                var more = buffer
                received!.writeBuffer(&more)
            }
            let bytes = received!
            let outcome = bytes.withUnsafeReadableBytes { framer.parse($0) }
            switch outcome {
            case .incomplete:
                return .none
            case .malformed:
                state = .closed
                return .failAndClose(.malformedResponse)
            case .complete(let response, let consumed):
                let extra = consumed < bytes.readableBytes
                received = nil
                if extra || !response.keepAlive {
                    state = .closed
                    return .succeedAndClose(response)
                }
                state = .idle
                return .succeed(response)
            }
        }
    }

    mutating func timedOut() -> Action {
        guard state == .inFlight else { return .none }
        state = .closed
        return .failAndClose(.timedOut)
    }

    /// An error on the channel: close it; the call, if any, is resolved when it is closed.
    mutating func errorCaught() -> Action {
        state == .closed ? .none : .close
    }

    /// The channel is closed (by either side).
    mutating func closed() -> Action {
        let previous = state
        state = .closed
        guard previous == .inFlight else { return .none }
        // A response that runs until the close is complete now; anything else is cut short. Even
        // with no byte of answer, the processor may have read the request: unknown, not failed.
        let bytes = received ?? ByteBuffer()
        if case .complete(let response, _) = bytes.withUnsafeReadableBytes({ framer.finish($0) }) {
            return .succeedAndClose(response)
        }
        return .failAndClose(.closed)
    }
}
