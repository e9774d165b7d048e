import HTTPServerKit
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import API

/// Answers given to each request, on an embedded loop (callbacks run on the test's thread).
final class Answers: @unchecked Sendable {
    var byRequest: [Int: [HTTPResponseStatus]] = [:]
}

@Suite("AnswerDeadlines: one timer for every request's deadline")
struct AnswerDeadlinesTests {
    let loop = EmbeddedEventLoop()
    let answers = Answers()

    func start(_ deadlines: AnswerDeadlines, request: Int) -> PendingAnswer {
        let answers = self.answers
        let responder = HTTPResponder(eventLoop: loop) { answers.byRequest[request, default: []].append($0.status) }
        return deadlines.start(responder) { HTTPServerResponse(status: .serviceUnavailable) }
    }

    @Test(
        "a request answered in time never gets the deadline's answer; one that is not gets it at its deadline, not before"
    )
    func answeredOrExpired() {
        let deadlines = AnswerDeadlines(eventLoop: loop, budget: .seconds(1))
        let quick = start(deadlines, request: 1)
        let stuck = start(deadlines, request: 2)
        quick.answer(HTTPServerResponse(status: .accepted))
        loop.advanceTime(by: .milliseconds(999))
        #expect(answers.byRequest[1] == [.accepted])
        #expect(answers.byRequest[2] == nil)
        #expect(!stuck.isAnswered)
        loop.advanceTime(by: .milliseconds(1))
        #expect(answers.byRequest[1] == [.accepted])
        #expect(answers.byRequest[2] == [.serviceUnavailable])
        // A reply that comes after the deadline's answer changes nothing.
        stuck.answer(HTTPServerResponse(status: .accepted))
        #expect(answers.byRequest[2] == [.serviceUnavailable])
        #expect(deadlines.count == 0)
    }

    @Test("requests started at different times each expire at their own deadline, behind answered ones")
    func eachAtItsOwnDeadline() {
        let deadlines = AnswerDeadlines(eventLoop: loop, budget: .seconds(1))
        var started: [PendingAnswer] = []
        for k in 0..<10 {
            if k > 0 { loop.advanceTime(by: .milliseconds(100)) }
            started.append(start(deadlines, request: k))
        }
        // Even requests are answered; the odd ones stay stuck.
        for k in stride(from: 0, to: 10, by: 2) { started[k].answer(HTTPServerResponse(status: .accepted)) }
        // Now 900 ms after the first start: request k expires at 1000 + 100 k ms.
        for k in stride(from: 1, to: 10, by: 2) {
            loop.advanceTime(by: .milliseconds(199))
            #expect(answers.byRequest[k] == nil, "request \(k) answered before its deadline")
            loop.advanceTime(by: .milliseconds(1))
            #expect(answers.byRequest[k] == [.serviceUnavailable], "request \(k) not answered at its deadline")
        }
        for k in stride(from: 0, to: 10, by: 2) { #expect(answers.byRequest[k] == [.accepted]) }
        #expect(deadlines.count == 0)
    }

    @Test(
        "a request started by an expiring answer (the next one pipelined on its connection) expires at its own deadline"
    )
    func startedWhileExpiring() {
        let deadlines = AnswerDeadlines(eventLoop: loop, budget: .seconds(1))
        let answers = self.answers
        let loop = self.loop
        let first = HTTPResponder(eventLoop: loop) { response in
            answers.byRequest[1, default: []].append(response.status)
            let next = HTTPResponder(eventLoop: loop) { answers.byRequest[2, default: []].append($0.status) }
            _ = deadlines.start(next) { HTTPServerResponse(status: .serviceUnavailable) }
        }
        _ = deadlines.start(first) { HTTPServerResponse(status: .serviceUnavailable) }
        loop.advanceTime(by: .seconds(1))
        #expect(answers.byRequest[1] == [.serviceUnavailable])
        #expect(answers.byRequest[2] == nil)
        loop.advanceTime(by: .milliseconds(999))
        #expect(answers.byRequest[2] == nil)
        loop.advanceTime(by: .milliseconds(1))
        #expect(answers.byRequest[2] == [.serviceUnavailable])
        #expect(deadlines.count == 0)
    }

    @Test("answered requests do not pile up: each start drops the answered ones at the head")
    func boundedWhileBusy() {
        let deadlines = AnswerDeadlines(eventLoop: loop, budget: .seconds(1))
        for k in 0..<10_000 {
            start(deadlines, request: k).answer(HTTPServerResponse(status: .accepted))
        }
        #expect(deadlines.count == 1)
        loop.advanceTime(by: .seconds(1))
        #expect(deadlines.count == 0)
        #expect(answers.byRequest.values.allSatisfy { $0 == [.accepted] })
    }
}
