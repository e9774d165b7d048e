import NIOCore
import Testing

@testable import Gateway
@testable import HTTPWire

@Suite("Client connection state machine, without a channel")
struct StateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine() -> ClientConnectionStateMachine {
        ClientConnectionStateMachine(now: start, headerTimeout: .seconds(10), idleTimeout: .seconds(60))
    }

    func head(keepAlive: Bool = true, http10: Bool = false) -> RequestHead {
        RequestHead(
            start: 0, headEnd: 10, isHTTP10: http10, isHeadMethod: false, keepAlive: keepAlive,
            expectContinue: false, needsRewrite: false, framing: .none)
    }

    @Test("reading pauses while a request is at an upstream and resumes after the answer")
    func pausesReading() {
        var m = machine()
        #expect(m.isReceiving)
        m.receivedRequest(head())
        #expect(!m.isReceiving)
        #expect(m.answerReady(now: start + .seconds(1)) == .write(keepAlive: true, isHTTP10: false))
        #expect(m.isReceiving)
        #expect(m.state == .idle(since: start + .seconds(1)))
    }

    @Test("Connection: close or HTTP/1.0 ends the connection after the answer")
    func closesAfterAnswer() {
        var m = machine()
        m.receivedRequest(head(keepAlive: false, http10: true))
        #expect(m.answerReady(now: start) == .write(keepAlive: false, isHTTP10: true))
        #expect(m.state == .closed)
    }

    @Test("an idle connection closes after the idle timeout, checked at most a header timeout apart")
    func idleTimeout() {
        var m = machine()
        #expect(m.timerFired(now: start + .seconds(10)) == .check(at: start + .seconds(20)))
        #expect(m.timerFired(now: start + .seconds(59)) == .check(at: start + .seconds(60)))
        #expect(m.timerFired(now: start + .seconds(60)) == .close)
        #expect(m.timerFired(now: start + .seconds(61)) == .stop)
    }

    @Test("a request must arrive whole within the header timeout of its first byte")
    func headerTimeout() {
        var m = machine()
        m.receivedPartialRequest(now: start + .seconds(5))
        m.receivedPartialRequest(now: start + .seconds(7))  // more bytes do not extend it
        #expect(m.timerFired(now: start + .seconds(10)) == .check(at: start + .seconds(15)))
        #expect(m.timerFired(now: start + .seconds(15)) == .close)
    }

    @Test("no client timeout runs while an upstream has the request")
    func noTimeoutWhileForwarding() {
        var m = machine()
        m.receivedRequest(head())
        #expect(m.timerFired(now: start + .seconds(600)) == .check(at: start + .seconds(610)))
    }

    @Test("shutdown closes an idle connection at once and a busy one after its answer")
    func quiesce() {
        var idle = machine()
        let closeNow = idle.quiesce()
        #expect(closeNow)
        var busy = machine()
        busy.receivedRequest(head())
        let closeBusy = busy.quiesce()
        #expect(!closeBusy)
        #expect(busy.answerReady(now: start) == .write(keepAlive: false, isHTTP10: false))
    }

    @Test("an answer for a connection that is gone is dropped")
    func answerAfterClose() {
        var m = machine()
        m.receivedRequest(head())
        m.channelClosed()
        #expect(m.answerReady(now: start) == .drop)
    }
}
