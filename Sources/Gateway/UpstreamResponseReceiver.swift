import NIOCore
import NIOHTTP1

/// Why a request got no answer from an upstream. Only `.unavailable` can happen before the
/// request was written; the others mean it may have been processed, so it is never resent.
enum UpstreamFailure: Error, Equatable {
    /// Every upstream is out of service or refused the connection.
    case unavailable
    /// The upstream closed or broke the connection, or sent something that is not HTTP.
    case badResponse
    /// No complete answer within the upstream timeout.
    case timeout

    var status: HTTPResponseStatus {
        switch self {
        case .unavailable: .serviceUnavailable
        case .badResponse: .badGateway
        case .timeout: .gatewayTimeout
        }
    }
}

/// Who waits for the answer to a forwarded request; called on the event loop of the pool.
protocol UpstreamResponseReceiver: AnyObject {
    /// `response` holds exactly one response of `length` bytes, parsed as `head`.
    func upstreamResponded(_ response: ByteBuffer, head: ResponseHead, length: Int)
    func upstreamFailed(_ failure: UpstreamFailure)
}
