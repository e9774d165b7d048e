import HTTPServerKit
import NIOCore

/// The deadline of every request an API answers, on one timer per event loop instead of one per
/// request. A timer per request was a task allocated, pushed onto the event loop's heap and
/// removed from it again (a search) for every payment, about a twentieth of the API's CPU in a
/// profile of the preview; requests all get one budget, so their deadlines come in the order
/// they start and one timer at the oldest unanswered one covers them all. Under load it fires
/// about once per budget; idle, once after the last request.
///
/// Confined to its event loop, like the requests it times, and on that loop's clock.
final class AnswerDeadlines: @unchecked Sendable {
    let eventLoop: any EventLoop
    let budget: TimeAmount
    /// Every request started and not yet known answered, oldest first (so in deadline order).
    private var pending = CircularBuffer<PendingAnswer>()
    private var timer: Scheduled<Void>?

    init(eventLoop: any EventLoop, budget: TimeAmount) {
        self.eventLoop = eventLoop
        self.budget = budget
    }

    /// Requests whose answer the deadlines still hold (answered ones included until the timer or
    /// the next start drops them).
    var count: Int { pending.count }

    /// A request starting now: answered through `responder`, with `onExpiry`'s answer if nothing
    /// else answered it by its deadline.
    func start(_ responder: HTTPResponder, onExpiry: @escaping @Sendable () -> HTTPServerResponse) -> PendingAnswer {
        eventLoop.assertInEventLoop()
        let answer = PendingAnswer(deadline: eventLoop.now + budget, responder: responder, onExpiry: onExpiry)
        while let first = pending.first, first.isAnswered { pending.removeFirst() }
        pending.append(answer)
        if timer == nil { arm(at: answer.deadline) }
        return answer
    }

    private func arm(at deadline: NIODeadline) {
        timer = eventLoop.scheduleTask(deadline: deadline) { self.expire() }
    }

    private func expire() {
        let now = eventLoop.now
        // An expired answer can start the next request of its connection (a pipelined one) from
        // inside this loop; `timer` still set keeps that start from arming a second timer.
        while let first = pending.first, first.isAnswered || first.deadline <= now {
            pending.removeFirst()
            first.expire()
        }
        timer = nil
        if let first = pending.first { arm(at: first.deadline) }
    }
}

/// One request's answer: the first of its operation's answer and its deadline's. Confined to
/// its event loop.
final class PendingAnswer: @unchecked Sendable {
    let deadline: NIODeadline
    private let responder: HTTPResponder
    private var onExpiry: (@Sendable () -> HTTPServerResponse)?
    private(set) var isAnswered = false

    init(deadline: NIODeadline, responder: HTTPResponder, onExpiry: @escaping @Sendable () -> HTTPServerResponse) {
        self.deadline = deadline
        self.responder = responder
        self.onExpiry = onExpiry
    }

    /// Answers, unless the request was answered already.
    func answer(_ response: HTTPServerResponse) {
        guard !isAnswered else { return }
        isAnswered = true
        onExpiry = nil
        responder(response)
    }

    /// Answers with the deadline's answer, unless the request was answered already.
    func expire() {
        guard !isAnswered, let onExpiry else { return }
        answer(onExpiry())
    }
}
