import HTTPServerKit
import NIOCore
import NIOHTTP1
import PaymentCore

/// All of a simulator's mutable state and its request handling. Confined to one event loop
/// (`loop`): requests from other loops hop there first, so there is no lock anywhere.
/// Invariant: every method runs on `loop`; promises are completed only after the state change
/// that caused them is done (their callbacks may re-enter).
final class SimulatorCore {
    let loop: any EventLoop
    let feeRate: FeeRate
    var token: String
    /// The configured delay of `POST /payments`, in milliseconds (also the health's `minResponseTime`).
    var delayMillis: Int64 = 0
    var failing = false
    var ledger = PaymentLedger()
    var paymentSlots: ConcurrencyLimiter<EventLoopPromise<Void>>
    var health: HealthWindowLimiter<EventLoopPromise<Void>>

    init(configuration: SimulatorConfiguration, feeRate: FeeRate, loop: any EventLoop) {
        self.loop = loop
        self.feeRate = feeRate
        self.token = configuration.token
        self.paymentSlots = ConcurrencyLimiter(
            maxInFlight: configuration.maxInFlight, maxQueued: configuration.maxQueued)
        self.health = HealthWindowLimiter(window: .milliseconds(configuration.healthWindowMillis))
    }

    /// A handle to `self` that `@Sendable` closures (scheduled tasks, future callbacks) may carry.
    var bound: NIOLoopBound<SimulatorCore> { NIOLoopBound(self, eventLoop: loop) }

    func answer(_ response: HTTPServerResponse) -> EventLoopFuture<HTTPServerResponse> {
        loop.makeSucceededFuture(response)
    }

    func handle(_ request: HTTPServerRequest) -> EventLoopFuture<HTTPServerResponse> {
        let path = request.path
        let method = request.method
        switch path {
        case "/payments":
            return method == .POST ? postPayment(request) : answer(.methodNotAllowed)
        case "/payments/service-health":
            return method == .GET ? serviceHealth() : answer(.methodNotAllowed)
        case "/admin/payments-summary", "/admin/configurations/token", "/admin/configurations/delay",
            "/admin/configurations/failure", "/admin/purge-payments":
            return answer(admin(request))
        default:
            if path.hasPrefix("/payments/") {
                return method == .GET
                    ? answer(getPayment(id: path.dropFirst("/payments/".count))) : answer(.methodNotAllowed)
            }
            return answer(.error(.notFound, "not found"))
        }
    }

    /// On close: nobody may wait forever for a slot or a window that will never come.
    func releaseWaiters() {
        for waiter in paymentSlots.removeAllWaiting() { waiter.fail(SimulatorClosed()) }
        for waiter in health.removeAllHeld() { waiter.succeed() }
    }

    func getPayment(id: Substring) -> HTTPServerResponse {
        guard CorrelationID.isValid(id), let payment = ledger.payment(id: id.lowercased()) else {
            return .error(.notFound, "payment not found")
        }
        return .json(.ok, ResponseJSON.payment(payment))
    }
}

/// The simulator was closed while a call waited for a slot.
struct SimulatorClosed: Error {}
