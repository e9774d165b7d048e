import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// The gateway's end of one API's handoff link: a Unix stream connection to the API's handoff
/// socket, over which client connections are handed (one byte with the descriptor attached) and
/// the API's load reports come back. `run` keeps it connected (a refused connect is tried again
/// every `retryMilliseconds`) until `stop`; `send` hands one connection over.
public final class HandoffLink: Sendable {
    public let path: String
    private let retryMilliseconds: Int
    private let sendTimeoutMilliseconds: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        /// The connected link; nil while down. Only `run` closes it, and only after clearing it
        /// here under the lock, so no send can use a descriptor number the system reused.
        var descriptor: CInt?
        /// Connections the API holds open: its last report plus those handed since.
        var openConnections = 0
        var handedOver = 0
        var stopping = false
    }

    /// What the balancer reads of a link.
    public struct Snapshot: Sendable {
        public var isUp: Bool
        public var openConnections: Int
        public var handedOver: Int
    }

    public init(path: String, retryMilliseconds: Int = 100, sendTimeoutMilliseconds: Int = 1000, logger: Logger) {
        self.path = path
        self.retryMilliseconds = retryMilliseconds
        self.sendTimeoutMilliseconds = sendTimeoutMilliseconds
        self.logger = logger
    }

    public var snapshot: Snapshot {
        state.withLockedValue {
            Snapshot(isUp: $0.descriptor != nil, openConnections: $0.openConnections, handedOver: $0.handedOver)
        }
    }

    /// Hands `descriptor` to the API; throws if the link is down or the send failed (which
    /// takes the link down until `run` connects again). The caller still closes its copy.
    public func send(_ descriptor: CInt) throws {
        try state.withLockedValue { state in
            guard let link = state.descriptor else {
                throw HandoffSocketError(operation: "hand over to unix:\(path)", code: ENOTCONN)
            }
            do {
                try HandoffSocket.send(descriptor: descriptor, over: link)
            } catch {
                state.descriptor = nil
                HandoffSocket.wake(link)
                throw error
            }
            state.openConnections += 1
            state.handedOver += 1
        }
    }

    /// Connects, reads the API's reports until the link ends, and connects again; blocks its
    /// thread until `stop`.
    public func run() {
        var loggedDown = false
        while !state.withLockedValue({ $0.stopping }) {
            let link: CInt
            do {
                link = try HandoffSocket.connectUnix(path: path)
            } catch {
                if !loggedDown {
                    logger.warning("handoff link down", metadata: ["path": "\(path)", "error": "\(error)"])
                    loggedDown = true
                }
                usleep(useconds_t(retryMilliseconds * 1000))
                continue
            }
            // A stopped (not dead) API must not hold the accepting thread: a send that cannot go
            // within this bound fails, and the connection goes to another API.
            HandoffSocket.setSendTimeout(link, milliseconds: sendTimeoutMilliseconds)
            let installed = state.withLockedValue { state -> Bool in
                guard !state.stopping else { return false }
                state.descriptor = link
                state.openConnections = 0
                return true
            }
            guard installed else {
                close(link)
                return
            }
            logger.info("handoff link up", metadata: ["path": "\(path)"])
            loggedDown = false
            readReports(link)
            state.withLockedValue { state in
                if state.descriptor == link { state.descriptor = nil }
                // The API's connections ended with it, or will be counted by its next report.
                state.openConnections = 0
            }
            close(link)
        }
    }

    /// Ends `run` (and the link) soon; the connections already handed over stay with the API.
    public func stop() {
        state.withLockedValue { state in
            state.stopping = true
            if let link = state.descriptor { HandoffSocket.wake(link) }
        }
    }

    private func readReports(_ link: CInt) {
        var decoder = LoadReportDecoder()
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(link, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            if let open = decoder.feed(buffer[..<count]) {
                state.withLockedValue { $0.openConnections = open }
            }
        }
    }
}
