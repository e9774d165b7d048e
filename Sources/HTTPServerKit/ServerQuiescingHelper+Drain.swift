import NIOCore
import NIOExtras

extension ServerQuiescingHelper {
    /// A graceful stop, as the API and the gateway both make it: the listener closes, each
    /// connection is asked to close after its request in progress, and this returns once all have
    /// closed or `grace` has passed, when `late` first runs on `loop` (to close what is left, or
    /// nothing: the event loop group's shutdown closes it then).
    public func drain(on loop: any EventLoop, grace: TimeAmount, late: @escaping @Sendable () -> Void = {}) async {
        let drained = loop.makePromise(of: Void.self)
        initiateShutdown(promise: drained)
        let timer = loop.scheduleTask(in: grace) {
            late()
            // Whichever comes first ends the wait: NIO leaves an already completed promise as it is.
            drained.succeed()
        }
        try? await drained.futureResult.get()
        timer.cancel()
    }
}
