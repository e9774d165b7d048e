import HTTPServerKit
import NIOCore

extension SimulatorCore {
    /// `GET /payments/service-health`, rate limited across every caller (see `HealthWindowLimiter`).
    /// Held callers are answered with the state at the moment the window opens.
    func serviceHealth() -> EventLoopFuture<HTTPServerResponse> {
        var waiter: EventLoopPromise<Void>?
        let decision = health.arrive(at: .now()) {
            let promise = loop.makePromise(of: Void.self)
            waiter = promise
            return promise
        }
        switch decision {
        case .answer:
            return answer(healthResponse())
        case .held(let opening):
            let bound = self.bound
            if let opening {
                loop.scheduleTask(deadline: opening) { bound.value.openHealthWindow() }
            }
            return waiter!.futureResult.map { bound.value.healthResponse() }
        case .rejected:
            return answer(.tooManyRequests)
        }
    }

    private func openHealthWindow() {
        for waiter in health.openWindow() { waiter.succeed() }
    }

    private func healthResponse() -> HTTPServerResponse {
        .json(.ok, ResponseJSON.health(failing: failing, minResponseTime: delayMillis))
    }
}
