import Logging
import NIOConcurrencyHelpers
import NIOCore
import PaymentCore
import PaymentStore
import ValkeyClient

/// Takes payments off the queue, sends each to a processor and books it once the processor has
/// it. Exactly once: the attempt (processor and requestedAt) is stored before the call, in the
/// same Valkey call that claims the payment; an unknown outcome pins the payment to that
/// attempt; booking is idempotent.
///
/// Everything runs on one event loop (`EventLoopTaskExecutor`): claims, processor calls and
/// bookings of many payments share its ticks, so a busy queue costs one claim and one booking
/// call per batch, not per payment.
public final class WorkerEngine: Sendable {
    let configuration: WorkerConfiguration
    let store: PaymentStore
    /// A second connection for `BLMOVE`, which holds its connection while it waits.
    let blocking: ValkeyClient
    let processors: ProcessorClient
    let logger: Logger
    let router: NIOLockedValueBox<Router>
    let gate: CapacityGate
    let bookings: BookingBatcher
    let executor: EventLoopTaskExecutor
    /// Payloads held by this worker right now (checked against its processing list).
    let inHand = NIOLockedValueBox(Set<String>())
    private let flags = NIOLockedValueBox((stopping: false, finished: false))

    var worker: String { configuration.workerID }
    /// The one event loop the engine runs on.
    var loop: any EventLoop { executor.eventLoop }
    var stopping: Bool { flags.withLockedValue { $0.stopping } }
    var finished: Bool { flags.withLockedValue { $0.finished } }

    public init(
        configuration: WorkerConfiguration, store: PaymentStore, blocking: ValkeyClient, processors: ProcessorClient,
        logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.blocking = blocking
        self.processors = processors
        self.logger = logger
        self.router = NIOLockedValueBox(Router(policy: configuration.routing))
        self.gate = CapacityGate(limit: configuration.maxInFlight)
        self.executor = EventLoopTaskExecutor(store.client.eventLoop)
        self.bookings = BookingBatcher(
            store: store, worker: configuration.workerID, eventLoop: store.client.eventLoop, logger: logger,
            maxBatch: configuration.claimBatch, linger: .milliseconds(Int64(configuration.bookLingerMillis)))
    }

    /// Asks the engine to stop: no new payments; what is being sent finishes; the rest is handed back.
    public func stop() {
        flags.withLockedValue { $0.stopping = true }
        gate.wake()
    }

    /// Runs until `stop()`, then drains and hands back what it still holds.
    public func run() async {
        await withTaskExecutorPreference(executor) {
            await self.runOnLoop()
        }
    }

    private func runOnLoop() async {
        // What a previous life of this worker (same id) held goes back first.
        if let n = await persist("release", { try await self.store.release(worker: self.worker) }), n > 0 {
            logger.info("handed back payments of a previous run", metadata: ["count": "\(n)"])
        }
        _ = await persist("heartbeat") {
            try await self.store.heartbeat(worker: self.worker, ttlMillis: self.configuration.heartbeatTTLMillis)
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.livenessLoop() }
            group.addTask { await self.healthLoop() }
            await self.claimLoop(group: &group)
            // What is out finishes; bookings that cannot reach Valkey are given up after a
            // while: their payments stay on this worker's list, with their attempts, and are
            // handed back below or taken back by another worker.
            var waited = 0
            while gate.held > 0 && waited < configuration.drainMillis {
                await loop.sleep(milliseconds: 20)
                waited += 20
            }
            flags.withLockedValue { $0.finished = true }
        }
        _ = try? await store.release(worker: worker)
        _ = try? await store.retire(worker: worker)
        _ = try? await store.dropLease(owner: worker)
        logger.info("worker stopped")
    }

    // MARK: Claiming

    /// Claims payments in batches while the queue is busy; waits on the queue itself (one
    /// blocking `BLMOVE`) only when it is empty.
    private func claimLoop(group: inout DiscardingTaskGroup) async {
        var adopting: String?
        var pacer = ClaimPacer(
            perSecond: configuration.maxClaimsPerSecond, burst: configuration.claimBatch,
            patienceMillis: configuration.claimPatienceMillis, now: WallClock.nowMillis())
        while !stopping {
            let free = await gate.waitForFree()
            if stopping { break }
            let now = WallClock.nowMillis()
            guard let processor = router.withLockedValue({ $0.choose(now: now) }) else {
                // No processor would take a payment: leave them queued, where another worker
                // (or this one, later) claims them with a fresh requestedAt. Only during an
                // outage of both does this loop wake to look again.
                await loop.sleep(milliseconds: 50)
                continue
            }
            let wanted = min(
                free, configuration.claimBatch, router.withLockedValue { $0.room(for: processor, now: now) })
            let allowed = pacer.allowance(now: now)
            if allowed < wanted && adopting == nil {
                // A backlog drains at the pace's limit, still in whole batches: claimed as the
                // allowance trickles in, each claim would take one payment.
                let wait = pacer.wait(for: wanted, now: now)
                if wait > 0 { await loop.sleep(milliseconds: wait) }
                continue
            }
            let limit = min(wanted, allowed)
            if limit <= 0 && adopting == nil {
                // Every connection to it is busy: its answers free them within milliseconds.
                await loop.sleep(milliseconds: 10)
                continue
            }
            do {
                // Bookings waiting for their linger ride along: same tick, same write to Valkey.
                bookings.flushNow()
                let asked = adopting == nil ? limit : max(0, limit - 1)
                let claimed = try await store.claim(
                    worker: worker, limit: asked, processor: processor, requestedAt: now, adopting: adopting)
                pacer.claimed(claimed.count, of: asked + (adopting == nil ? 0 : 1), now: now)
                adopting = nil
                gate.take(claimed.count)
                for c in claimed {
                    inHand.withLockedValue { _ = $0.insert(c.payment.payload) }
                    if case .attempt(let attempt)? = c.record, !attempt.pinned {
                        sendFirst(c.payment, attempt)
                    } else {
                        group.addTask {
                            await self.process(c.payment, from: c.record)
                            self.release(c.payment)
                        }
                    }
                }
                if claimed.isEmpty {
                    // Nothing queued: wait on the queue itself rather than poll it.
                    adopting = try await PaymentStore.awaitPayload(
                        client: blocking, keys: store.keys, worker: worker, timeoutSeconds: 2)
                } else if claimed.count < limit, configuration.claimLingerMillis > 0 {
                    // A trickle: let a few more arrive, so that they share a claim, their calls
                    // go out together and their answers share a booking.
                    await loop.sleep(milliseconds: Int64(configuration.claimLingerMillis))
                }
            } catch {
                logger.warning("claim failed", metadata: ["error": "\(error)"])
                await loop.sleep(milliseconds: 100)
            }
        }
        if let adopting {
            // Moved to our list but never claimed: back to the queue.
            _ = try? await store.requeue([adopting], worker: worker)
        }
    }

    // MARK: One payment

    /// The common case of a claimed payment, on futures: its first call, then its booking. Every
    /// payment starts here and most end here, so it creates no task and suspends nothing: a child
    /// task per payment, resumed after the call and after the booking, cost each worker 8 % more
    /// CPU in the preview (143 against 131 µs per payment, four runs each, interleaved). Any other
    /// outcome goes on in `process`, in a task of its own: not a child of the claim loop's group,
    /// which cannot be reached from here; the engine's drain waits for it through the capacity
    /// gate like for any other.
    private func sendFirst(_ payment: QueuedPayment, _ attempt: PaymentRecord.Attempt) {
        call(payment, attempt) { outcome in
            guard outcome != .accepted else {
                self.bookings.book(.init(payment: payment, attempt: attempt)) { self.release(payment) }
                return
            }
            Task(executorPreference: self.executor) {
                await self.process(payment, from: .attempt(attempt), firstOutcome: outcome)
                self.release(payment)
            }
        }
    }

    /// One call to the attempt's processor, the router told when it starts and how it ended;
    /// `then` runs on the processor client's event loop.
    private func call(
        _ payment: QueuedPayment, _ attempt: PaymentRecord.Attempt, then: @escaping @Sendable (CallOutcome) -> Void
    ) {
        let startedAt = WallClock.nowMillis()
        router.withLockedValue { $0.callStarted(attempt.processor, now: startedAt) }
        processors.send(payment, attempt: attempt) { outcome in
            let endedAt = WallClock.nowMillis()
            self.router.withLockedValue {
                $0.callEnded(attempt.processor, startedAt: startedAt, now: endedAt, outcome: outcome)
            }
            then(outcome)
        }
    }

    /// The payment is no longer in this worker's hands: its slot is free.
    private func release(_ payment: QueuedPayment) {
        inHand.withLockedValue { _ = $0.remove(payment.payload) }
        gate.give()
    }

    /// Sends a claimed payment under its attempt until a processor has it, then books it.
    /// `firstOutcome`: the attempt `claimed` was already sent once and ended so.
    func process(_ payment: QueuedPayment, from claimed: PaymentRecord?, firstOutcome: CallOutcome? = nil) async {
        var record = claimed
        if record == nil {
            // The claim could not reach its record (a bucket it did not expect): begin it here.
            let proposed = PaymentRecord.Attempt(
                amount: payment.amount,
                processor: router.withLockedValue { $0.choose(now: WallClock.nowMillis()) }
                    ?? .default, requestedAt: WallClock.nowMillis(), pinned: false)
            guard let begun = await persist("begin", { try await self.store.begin(payment, proposed: proposed) })
            else { return }
            record = begun
        }
        guard case .attempt(var current) = record else {
            // Purged, or booked by a copy already: nothing to send.
            _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
            return
        }
        var backoff: Int64 = 50
        var sentOutcome = firstOutcome
        while true {
            if stopping && current.pinned { return }
            if current.pinned {
                // A retry: make sure the payment was not booked by a copy meanwhile.
                guard let stored = await persist("record", { try await self.store.record(of: payment) })
                else { return }
                switch stored {
                case .some(.attempt(let a)): current = a
                case .some(.booked):
                    _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
                    return
                default: break  // purged while in flight: still ours to finish (a processor may have it)
                }
            }

            let outcome: CallOutcome
            if let sent = sentOutcome {
                outcome = sent
                sentOutcome = nil
            } else {
                let attempt = current
                outcome = await withCheckedContinuation { sent in call(payment, attempt) { sent.resume(returning: $0) }
                }
            }

            switch outcome {
            case .accepted:
                _ = try? await bookings.book(.init(payment: payment, attempt: current)).get()
                return
            case .failed where !current.pinned:
                // The processor does not have it: the payment is free to go elsewhere, with a new
                // requestedAt, unless someone pinned or booked it meanwhile. With no processor to
                // take it now, it goes back to the queue: held there, it is claimed again with a
                // fresh requestedAt when one comes back (sent with its old one, it would be booked
                // inside windows the checker has already compared).
                guard let next = router.withLockedValue({ $0.choose(now: WallClock.nowMillis()) }) else {
                    let refused = current
                    guard
                        let stored = await persist(
                            "unclaim",
                            { try await self.store.unclaim(payment, expected: refused, worker: self.worker) })
                    else { return }
                    switch stored {
                    case .some(.queued): return
                    case .some(.attempt(let a)): current = a
                    default:
                        _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
                        return
                    }
                    continue
                }
                let moved = PaymentRecord.Attempt(
                    amount: payment.amount, processor: next, requestedAt: WallClock.nowMillis(), pinned: false)
                switch await replace(payment, current, with: moved, "reroute") {
                case .attempt(let a): current = a
                case .finished: return
                }
            case .failed, .unknown:
                if !current.pinned {
                    var pinned = current
                    pinned.pinned = true
                    switch await replace(payment, current, with: pinned, "pin") {
                    case .attempt(let a): current = a
                    case .finished: return
                    }
                }
                if stopping { return }
                // Only this processor with this requestedAt may have it: ask it again, later.
                await loop.sleep(milliseconds: backoff)
                backoff = min(backoff * 2, 2_000)
            }
        }
    }

    enum Next {
        case attempt(PaymentRecord.Attempt)
        /// Nothing more to do here: booked by a copy, purged, or the worker is stopping.
        case finished
    }

    /// Moves a payment from its attempt `current` to `new` unless someone pinned or booked it
    /// meanwhile, and says how to go on.
    private func replace(
        _ payment: QueuedPayment, _ current: PaymentRecord.Attempt, with new: PaymentRecord.Attempt, _ what: String
    ) async -> Next {
        guard
            let stored = await persist(
                what,
                {
                    try await self.store.compareAndSet(payment, expected: .attempt(current), new: .attempt(new))
                })
        else { return .finished }
        switch stored {
        case .some(.attempt(let a)): return .attempt(a)
        default:
            // Booked by a copy, or purged before it ever reached a processor: not ours to send.
            _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
            return .finished
        }
    }

    /// Runs a Valkey operation until it succeeds. Nil if the worker stops first: the payment then
    /// stays on this worker's list and is handed back, with its record intact.
    func persist<T: Sendable>(_ what: String, _ operation: @Sendable () async throws -> T) async -> T? {
        var delay: Int64 = 20
        var waited: Int64 = 0
        while true {
            do {
                return try await operation()
            } catch {
                if stopping && waited > 3_000 { return nil }
                logger.debug("valkey operation failed, retrying", metadata: ["op": "\(what)", "error": "\(error)"])
                await loop.sleep(milliseconds: delay)
                waited += delay
                delay = min(delay * 2, 1_000)
            }
        }
    }
}
