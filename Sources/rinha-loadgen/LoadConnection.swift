import NIOCore

/// One keep-alive connection of a driver and the request it carries, if any. At most one
/// request is out on it at a time (no pipelining), so its state says everything.
final class LoadConnection {
    enum State {
        case connecting
        case idle
        /// Carrying the request due at `due`, written at `sent` (both ns after the run's start).
        case busy(due: Int64, sent: Int64)
        /// Closed or being closed: whatever happens on it now is ignored.
        case closed
    }

    var state: State = .connecting
    var channel: (any Channel)?
    /// Owned by the channel's pipeline; gone once the channel is.
    weak var handler: ResponseHandler?
    /// Status and keep-alive of the answer being read.
    var status = 0
    var keepAlive = true
}
