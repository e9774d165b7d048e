import Logging
import NIOConcurrencyHelpers
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The API's end of the handoff: a Unix socket the gateway connects to, over which it hands
/// client connections. Each descriptor received goes to `adopt`, which serves it; `report` tells
/// the gateway how many of them are open. Blocking calls, on threads of its own: they run once
/// per connection, never per request.
public final class HandoffReceiver: Sendable {
    public let path: String
    private let listener: CInt
    private let threads: NIOThreadPool
    private let adopt: @Sendable (CInt) -> Void
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        /// Open links, newest last (a restarted gateway's link comes after its predecessor's
        /// until that one ends); reports go to the newest.
        var links: [CInt] = []
        var received = 0
        var stopping = false
    }

    /// Binds the socket at `path` (a stale file is replaced). `maxLinks` bounds the gateways
    /// served at once; one is the rule, a second one while a restarted gateway replaces the first.
    public init(
        path: String, maxLinks: Int = 4, logger: Logger, adopt: @escaping @Sendable (CInt) -> Void
    ) throws {
        self.path = path
        self.listener = try HandoffSocket.listenUnix(path: path)
        self.threads = NIOThreadPool(numberOfThreads: 1 + maxLinks)
        self.adopt = adopt
        self.logger = logger
    }

    /// Descriptors received so far.
    public var received: Int { state.withLockedValue { $0.received } }

    public func start() {
        threads.start()
        threads.submit { [self] _ in acceptLinks() }
    }

    /// Tells the gateway how many handed-over connections are open; dropped rather than
    /// waited for if the link's buffer is full (the next report corrects it).
    public func report(openConnections: Int) {
        let bytes = LoadReport.encode(openConnections: openConnections)
        state.withLockedValue { state in
            if let link = state.links.last { _ = HandoffSocket.sendNow(bytes, over: link) }
        }
    }

    /// Stops receiving: no new link, the links end (the gateway then hands connections to the
    /// other APIs). Descriptors the gateway sent and this end had not received yet are closed
    /// by the system with the link. Connections already adopted are the caller's to drain.
    /// Idempotent: a second call returns at once. It must not close the listener again, since its
    /// descriptor number may by then belong to another socket of the process.
    public func stop() async {
        let first = state.withLockedValue { state -> Bool in
            guard !state.stopping else { return false }
            state.stopping = true
            HandoffSocket.wake(listener)
            for link in state.links { HandoffSocket.wake(link) }
            return true
        }
        guard first else { return }
        try? await threads.shutdownGracefully()
        close(listener)
        unlink(path)
    }

    private func acceptLinks() {
        HandoffSocket.acceptUntilShutDown(listener, logger: logger) { link in
            let accepted = state.withLockedValue { state -> Bool in
                guard !state.stopping else { return false }
                state.links.append(link)
                return true
            }
            guard accepted else {
                close(link)
                return false
            }
            threads.submit { [self] _ in receive(on: link) }
            return true
        }
    }

    private func receive(on link: CInt) {
        logger.info("handoff link from the gateway", metadata: ["path": "\(path)"])
        while true {
            do {
                guard let descriptor = try HandoffSocket.receiveDescriptor(from: link) else { break }
                state.withLockedValue { $0.received += 1 }
                adopt(descriptor)
            } catch let error as HandoffSocketError where error.code == EBADMSG {
                continue  // a byte without exactly one descriptor: nothing to serve
            } catch {
                logger.warning("handoff link failed", metadata: ["error": "\(error)"])
                break
            }
        }
        state.withLockedValue { state in state.links.removeAll { $0 == link } }
        close(link)
    }
}
