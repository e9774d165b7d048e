import HTTPServerKit
import NIOCore

extension SimulatorCore {
    /// `GET /payments/service-health`, rate limited across every caller (see
    /// `FixedWindowLimiter`). Queued callers are answered with the state at the moment they get
    /// the permit; one that leaves first is dropped from the queue.
    func serviceHealth(clientGone: EventLoopFuture<Void>) -> EventLoopFuture<HTTPServerResponse> {
        let now = NIODeadline.now()
        for waiter in health.advance(to: now) { waiter.succeed() }
        let id = makeWaiterID()
        var waiter: EventLoopPromise<Void>?
        let decision = health.arrive(id: id, at: now) {
            let promise = loop.makePromise(of: Void.self)
            waiter = promise
            return promise
        }
        switch decision {
        case .granted:
            return answer(healthResponse())
        case .queued:
            let bound = self.bound
            armHealthTimer()
            clientGone.hop(to: loop).whenSuccess { bound.value.healthCallerLeft(id) }
            return waiter!.futureResult.map { bound.value.healthResponse() }
        case .rejected:
            return answer(.tooManyRequests)
        }
    }

    private func healthCallerLeft(_ id: UInt64) {
        health.cancel(id: id)?.fail(ClientGone())
    }

    /// One timer at a time, at the heartbeat that next replenishes while someone is queued.
    private func armHealthTimer() {
        guard let wakeup = health.nextWakeup else { return }
        if let armed = healthWakeup, armed <= wakeup { return }
        healthWakeup = wakeup
        let bound = self.bound
        loop.scheduleTask(deadline: wakeup) { bound.value.healthTimerFired(wakeup) }
    }

    private func healthTimerFired(_ wakeup: NIODeadline) {
        if healthWakeup == wakeup { healthWakeup = nil }
        // Never before the beat it was armed for, whatever the clock's rounding.
        let now = max(NIODeadline.now(), wakeup)
        for waiter in health.advance(to: now) { waiter.succeed() }
        armHealthTimer()
    }

    func healthResponse() -> HTTPServerResponse {
        .json(.ok, ResponseJSON.health(failing: failing, minResponseTime: delayMillis))
    }
}
