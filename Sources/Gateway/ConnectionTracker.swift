import NIOCore

/// Sits in the listening channel's pipeline and sees every accepted connection: it enforces the
/// connection limit (a connection over it is closed at once, before any byte is read) and knows
/// which connections to tell to finish when the gateway shuts down. Only touched on the listening
/// channel's event loop.
final class ConnectionTracker: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let maxConnections: Int
    private var children: [ObjectIdentifier: any Channel] = [:]
    private var shutdownPromise: EventLoopPromise<Void>?
    private var serverChannel: (any Channel)?

    init(maxConnections: Int) { self.maxConnections = maxConnections }

    var openConnections: Int { children.count }

    func handlerAdded(context: ChannelHandlerContext) { serverChannel = context.channel }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        guard shutdownPromise == nil, children.count < maxConnections else {
            child.close(promise: nil)
            return
        }
        let id = ObjectIdentifier(child)
        children[id] = child
        let tracker = NIOLoopBound(self, eventLoop: context.eventLoop)
        child.closeFuture.whenComplete { _ in
            tracker.eventLoop.execute { tracker.value.removed(id) }
        }
        context.fireChannelRead(data)
    }

    private func removed(_ id: ObjectIdentifier) {
        children[id] = nil
        if children.isEmpty, let promise = shutdownPromise {
            promise.succeed()
        }
    }

    /// Stops accepting, asks every connection to close after its request in progress; the
    /// future completes once all are closed.
    func initiateShutdown(eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        if let promise = shutdownPromise { return promise.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        shutdownPromise = promise
        serverChannel?.close(promise: nil)
        if children.isEmpty {
            promise.succeed()
        } else {
            for child in children.values {
                child.pipeline.fireUserInboundEventTriggered(GatewayQuiesceEvent())
            }
        }
        return promise.futureResult
    }

    func closeAll() {
        for child in children.values { child.close(promise: nil) }
    }
}
