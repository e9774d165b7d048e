import NIOCore
import NIOEmbedded
import Testing

@testable import Worker

let accepted = ProcessorResponse(status: 200, body: Array(kestrelBody.utf8), keepAlive: true)

@Suite("ProcessorConnectionStateMachine")
struct ProcessorConnectionStateMachineTests {
    @Test("a call is written, answered in two reads, and leaves the connection idle")
    func answered() {
        var machine = ProcessorConnectionStateMachine()
        #expect(machine.send() == .write)
        machine.writeSucceeded()
        #expect(machine.read(ByteBuffer(string: kestrelFirstWrite)) == .none)
        #expect(machine.read(ByteBuffer(string: "0\r\n\r\n")) == .succeed(accepted))
        #expect(machine.state == .idle)
        #expect(machine.send() == .write)
    }

    @Test("Connection: close or stray bytes after the answer close the connection")
    func closeAfter() {
        var machine = ProcessorConnectionStateMachine()
        _ = machine.send()
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        #expect(
            machine.read(ByteBuffer(string: close))
                == .succeedAndClose(ProcessorResponse(status: 200, body: Array("{}".utf8), keepAlive: false)))
        #expect(machine.state == .closed)

        var other = ProcessorConnectionStateMachine()
        _ = other.send()
        #expect(other.read(ByteBuffer(string: kestrel + "HTTP")) == .succeedAndClose(accepted))
    }

    @Test("a malformed answer fails the call as malformed and closes")
    func malformed() {
        var machine = ProcessorConnectionStateMachine()
        _ = machine.send()
        machine.writeSucceeded()
        #expect(machine.read(ByteBuffer(string: "HTTP/1.1 200 OK\nX: y\r\n\r\n")) == .failAndClose(.malformedResponse))
        #expect(machine.state == .closed)
        #expect(machine.send() == .reject(.notWritten))
    }

    @Test("a timeout after the write is a timeout and closes")
    func timeout() {
        var machine = ProcessorConnectionStateMachine()
        _ = machine.send()
        machine.writeSucceeded()
        #expect(machine.read(ByteBuffer(string: "HTTP/1.1 2")) == .none)
        #expect(machine.timedOut() == .failAndClose(.timedOut))
        #expect(machine.closed() == .none)
    }

    @Test("a failed write is a definite failure; a close after the write is not")
    func writeOrClose() {
        var notWritten = ProcessorConnectionStateMachine()
        _ = notWritten.send()
        #expect(notWritten.writeFailed() == .failAndClose(.notWritten))
        #expect(notWritten.closed() == .none)

        var written = ProcessorConnectionStateMachine()
        _ = written.send()
        written.writeSucceeded()
        #expect(written.closed() == .failAndClose(.closed))

        var cut = ProcessorConnectionStateMachine()
        _ = cut.send()
        cut.writeSucceeded()
        _ = cut.read(ByteBuffer(string: kestrelFirstWrite))
        #expect(cut.closed() == .failAndClose(.closed))
    }

    @Test("an answer that runs until the close completes at the close")
    func untilClose() {
        var machine = ProcessorConnectionStateMachine()
        _ = machine.send()
        machine.writeSucceeded()
        #expect(machine.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n{}")) == .none)
        #expect(
            machine.closed()
                == .succeedAndClose(ProcessorResponse(status: 200, body: Array("{}".utf8), keepAlive: false)))
    }

    @Test("bytes while idle close the connection; a close while idle resolves nothing")
    func idle() {
        var machine = ProcessorConnectionStateMachine()
        #expect(machine.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\n")) == .close)
        var quiet = ProcessorConnectionStateMachine()
        #expect(quiet.closed() == .none)
        #expect(quiet.send() == .reject(.notWritten))
        #expect(quiet.errorCaught() == .none)
    }
}

/// Records what the handler tells its pool.
final class RecordingDelegate: ProcessorConnectionDelegate {
    var idle = 0
    var closed = 0
    func connectionIdle(_ connection: ProcessorConnectionHandler) { idle += 1 }
    func connectionClosed(_ connection: ProcessorConnectionHandler) { closed += 1 }
}

@Suite("ProcessorConnectionHandler")
struct ProcessorConnectionHandlerTests {
    let request = ByteBuffer(string: "GET /payments/service-health HTTP/1.1\r\nHost: p\r\n\r\n")

    func makeChannel() throws -> (EmbeddedChannel, ProcessorConnectionHandler, RecordingDelegate) {
        let handler = ProcessorConnectionHandler()
        let delegate = RecordingDelegate()
        handler.delegate = delegate
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        return (channel, handler, delegate)
    }

    /// Starts a call on `handler`; the promise gets how it ended.
    func execute(
        on handler: ProcessorConnectionHandler, _ channel: EmbeddedChannel, deadline: NIODeadline
    ) -> EventLoopPromise<ProcessorResponse> {
        let promise = channel.eventLoop.makePromise(of: ProcessorResponse.self)
        handler.execute(request, deadline: deadline) { promise.completeWith($0.mapError { $0 }) }
        return promise
    }

    @Test("writes the request bytes as given and resolves with Kestrel's two-write answer")
    func roundTrip() throws {
        let (channel, handler, delegate) = try makeChannel()
        let promise = execute(on: handler, channel, deadline: channel.embeddedEventLoop.now + .seconds(5))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == request)
        try channel.writeInbound(ByteBuffer(string: kestrelFirstWrite))
        #expect(delegate.idle == 0)
        try channel.writeInbound(ByteBuffer(string: "0\r\n\r\n"))
        #expect(try promise.futureResult.wait() == accepted)
        #expect(delegate.idle == 1)
        #expect(channel.isActive)
        // The timer was cancelled: time passing does nothing more.
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(channel.isActive)
        #expect(delegate.closed == 0)
        _ = try channel.finish()
    }

    @Test("no answer by the deadline: timed out, the connection closed and reported once")
    func timeout() throws {
        let (channel, handler, delegate) = try makeChannel()
        let promise = execute(on: handler, channel, deadline: channel.embeddedEventLoop.now + .milliseconds(200))
        _ = try channel.readOutbound(as: ByteBuffer.self)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(199))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(throws: ProcessorCallError.timedOut) { try promise.futureResult.wait() }
        #expect(!channel.isActive)
        #expect(delegate.closed == 1)
        #expect(delegate.idle == 0)
    }

    @Test("the peer closing after the request was written leaves the call unknown")
    func peerClosed() throws {
        let (channel, handler, delegate) = try makeChannel()
        let promise = execute(on: handler, channel, deadline: channel.embeddedEventLoop.now + .seconds(5))
        _ = try channel.readOutbound(as: ByteBuffer.self)
        channel.pipeline.fireChannelInactive()
        #expect(throws: ProcessorCallError.closed) { try promise.futureResult.wait() }
        #expect(ProcessorCallError.closed.outcome == .unknown)
        #expect(delegate.closed == 1)
    }

    @Test("a malformed answer fails the call and closes the connection")
    func malformed() throws {
        let (channel, handler, delegate) = try makeChannel()
        let promise = execute(on: handler, channel, deadline: channel.embeddedEventLoop.now + .seconds(5))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"))
        #expect(throws: ProcessorCallError.malformedResponse) { try promise.futureResult.wait() }
        #expect(!channel.isActive)
        #expect(delegate.closed == 1)
    }

    @Test("a close while idle is reported to the pool and resolves nothing")
    func idleClose() throws {
        let (channel, _, delegate) = try makeChannel()
        channel.pipeline.fireChannelInactive()
        #expect(delegate.closed == 1)
        #expect(delegate.idle == 0)
    }

    @Test("a write that fails is a definite failure")
    func writeFails() throws {
        let (channel, handler, delegate) = try makeChannel()
        try channel.close().wait()
        #expect(delegate.closed == 1)
        let promise = execute(on: handler, channel, deadline: channel.embeddedEventLoop.now + .seconds(5))
        #expect(throws: ProcessorCallError.notWritten) { try promise.futureResult.wait() }
        #expect(ProcessorCallError.notWritten.outcome == .failed)
    }
}
