/// Why a processor call got no usable answer, split by what exactly-once booking needs to know:
/// whether any byte of the request can have reached the processor.
enum ProcessorCallError: Error, Equatable, Sendable {
    /// The processor has no URL.
    case noURL
    /// The connection could not be made (refused, unreachable, connect timeout).
    case connectFailed
    /// The write itself failed. The request is one small buffer on an otherwise quiet connection,
    /// so the kernel takes all of it or none.
    case notWritten
    /// The deadline passed while the call waited for a free connection.
    case expiredInQueue
    /// The client shut down before the call got a connection.
    case shutdown
    /// No complete answer before the deadline, after the request was written.
    case timedOut
    /// The connection ended (reset, closed) after the request was written and before a complete answer.
    case closed
    /// The answer broke HTTP/1.1's grammar.
    case malformedResponse

    /// A definite failure when nothing can have been sent; unknown otherwise.
    var outcome: CallOutcome {
        switch self {
        case .noURL, .connectFailed, .notWritten, .expiredInQueue, .shutdown: .failed
        case .timedOut, .closed, .malformedResponse: .unknown
        }
    }
}
