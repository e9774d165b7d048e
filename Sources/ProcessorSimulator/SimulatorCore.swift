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
    var paymentSlots: ConcurrencyLimiter<(id: UInt64, promise: EventLoopPromise<Void>)>
    var health: FixedWindowLimiter<EventLoopPromise<Void>>
    /// When the health limiter's timer is armed for; nil while none is.
    var healthWakeup: NIODeadline?
    /// Names a waiting call, so that its client's departure can take it out of a queue.
    var nextWaiterID: UInt64 = 0

    init(configuration: SimulatorConfiguration, feeRate: FeeRate, loop: any EventLoop) {
        self.loop = loop
        self.feeRate = feeRate
        self.token = configuration.token
        self.paymentSlots = ConcurrencyLimiter(
            maxInFlight: configuration.maxInFlight, maxQueued: configuration.maxQueued)
        self.health = FixedWindowLimiter(
            window: .milliseconds(configuration.healthWindowMillis), origin: .now())
    }

    func makeWaiterID() -> UInt64 {
        nextWaiterID &+= 1
        return nextWaiterID
    }

    /// A handle to `self` that `@Sendable` closures (scheduled tasks, future callbacks) may carry.
    var bound: NIOLoopBound<SimulatorCore> { NIOLoopBound(self, eventLoop: loop) }

    func answer(_ response: HTTPServerResponse) -> EventLoopFuture<HTTPServerResponse> {
        loop.makeSucceededFuture(response)
    }

    /// `clientGone` succeeds if the client leaves before its answer is written.
    func handle(_ request: HTTPServerRequest, clientGone: EventLoopFuture<Void>) -> EventLoopFuture<
        HTTPServerResponse
    > {
        let path = request.path
        let method = request.method
        switch path {
        case "/payments":
            return method == .POST ? postPayment(request, clientGone: clientGone) : answer(.methodNotAllowed)
        case "/payments/service-health":
            return method == .GET ? serviceHealth(clientGone: clientGone) : answer(.methodNotAllowed)
        case "/admin/payments-summary", "/admin/configurations/token", "/admin/configurations/delay",
            "/admin/configurations/failure", "/admin/purge-payments":
            return answer(admin(request))
        default:
            if path.hasPrefix("/payments/") {
                return method == .GET
                    ? answer(getPayment(id: path.dropFirst("/payments/".count))) : answer(.methodNotAllowed)
            }
            return answer(.notFound)
        }
    }

    /// On close: nobody may wait forever for a slot or a window that will never come.
    func releaseWaiters() {
        for waiter in paymentSlots.removeAllWaiting() { waiter.promise.fail(SimulatorClosed()) }
        for waiter in health.removeAllQueued() { waiter.succeed() }
    }

    func getPayment(id: Substring) -> HTTPServerResponse {
        guard CorrelationID.isValid(id), let payment = ledger.payment(id: id.lowercased()) else {
            return .notFound
        }
        return .json(.ok, ResponseJSON.payment(payment))
    }
}

/// The simulator was closed while a call waited for a slot.
struct SimulatorClosed: Error {}

/// The client left while its call waited in a queue: the call is dropped, never run.
struct ClientGone: Error {}
