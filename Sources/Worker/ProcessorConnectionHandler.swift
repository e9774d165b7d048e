import NIOCore

/// Hears when a processor connection is free again, or gone for good (told once).
protocol ProcessorConnectionDelegate: AnyObject {
    func connectionIdle(_ connection: ProcessorConnectionHandler)
    func connectionClosed(_ connection: ProcessorConnectionHandler)
}

/// How a processor call ended: its answer, or why there is none.
typealias ProcessorCallCompletion = (Result<ProcessorResponse, ProcessorCallError>) -> Void

/// The one handler of a processor connection's pipeline: writes a call's request bytes, frames
/// the answer and completes the call, following `ProcessorConnectionStateMachine`. The pool
/// drives it directly on the connection's event loop and hears back through `delegate`. A call
/// completes through a callback rather than a promise: this is every payment's call, and the
/// worker goes on from it in the same tick.
final class ProcessorConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var delegate: (any ProcessorConnectionDelegate)?
    private var stateMachine = ProcessorConnectionStateMachine()
    private var context: ChannelHandlerContext?
    private var completion: ProcessorCallCompletion?
    private var timer: Scheduled<Void>?
    private var reportedClosed = false
    /// When the connection last finished a call (for the pool's idle limit).
    private(set) var idleSince = NIODeadline.now()

    var isClosed: Bool { stateMachine.state == .closed }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Sends one request; `completion` gets the answer or a `ProcessorCallError`, on the event loop.
    func execute(_ request: ByteBuffer, deadline: NIODeadline, completion: @escaping ProcessorCallCompletion) {
        let action = stateMachine.send()
        guard case .write = action, let context else {
            if case .reject(let error) = action {
                completion(.failure(error))
            } else {
                // Not in a pipeline yet or any more: nothing was written.
                completion(.failure(.notWritten))
            }
            return
        }
        self.completion = completion
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            perform(stateMachine.timedOut())
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success: stateMachine.writeSucceeded()
            case .failure: perform(stateMachine.writeFailed())
            }
        }
        context.writeAndFlush(wrapOutboundOut(request), promise: written)
    }

    /// Closes the connection; an in-flight call ends as `closed`.
    func close() {
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(stateMachine.read(unwrapInboundIn(data)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        perform(stateMachine.errorCaught())
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(stateMachine.closed())
        // Closed by the server while idle: dropped without a word.
        reportClosed()
        context.fireChannelInactive()
    }

    private func perform(_ action: ProcessorConnectionStateMachine.Action) {
        switch action {
        case .none, .write, .reject:
            return
        case .succeed(let response):
            let completion = takeCall()
            idleSince = .now()
            // The pool learns first, so that a call resolved here that queues the next one finds
            // this connection free.
            delegate?.connectionIdle(self)
            completion?(.success(response))
        case .succeedAndClose(let response):
            let completion = takeCall()
            closeAndReport()
            completion?(.success(response))
        case .failAndClose(let error):
            let completion = takeCall()
            closeAndReport()
            completion?(.failure(error))
        case .close:
            closeAndReport()
        }
    }

    private func takeCall() -> ProcessorCallCompletion? {
        timer?.cancel()
        timer = nil
        defer { completion = nil }
        return completion
    }

    private func closeAndReport() {
        context?.close(promise: nil)
        reportClosed()
    }

    private func reportClosed() {
        guard !reportedClosed else { return }
        reportedClosed = true
        delegate?.connectionClosed(self)
    }
}
