import Logging
import NIOConcurrencyHelpers
import NIOCore
import PaymentCore
import PaymentStore
import ValkeyClient

/// Takes payments off the queue, sends each to a processor and books it once the processor has
/// it. Exactly once: the attempt (processor and requestedAt) is stored before the call, an
/// unknown outcome pins the payment to that attempt, and booking is idempotent.
public final class WorkerEngine: Sendable {
    let configuration: WorkerConfiguration
    let store: PaymentStore
    /// A second connection for `BLMOVE`, which holds its connection while it waits.
    let blocking: ValkeyClient
    let processors: ProcessorClient
    let logger: Logger
    let router: NIOLockedValueBox<Router>
    let gate: CapacityGate
    /// Payloads held by this worker right now (checked against its processing list).
    let inHand = NIOLockedValueBox(Set<String>())
    /// Payments waiting for a processor to take them.
    let held = HoldQueue()
    private let flags = NIOLockedValueBox((stopping: false, finished: false))

    var worker: String { configuration.workerID }
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
    }

    /// Asks the engine to stop: no new payments; what is being sent finishes; the rest is handed back.
    public func stop() {
        flags.withLockedValue { $0.stopping = true }
        gate.wake()
        held.wakeAll()
    }

    /// Runs until `stop()`, then drains and hands back what it still holds.
    public func run() async {
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
            group.addTask { await self.holdLoop() }
            await self.claimLoop(group: &group)
            while gate.held > 0 { try? await Task.sleep(for: .milliseconds(20)) }
            flags.withLockedValue { $0.finished = true }
        }
        _ = try? await store.release(worker: worker)
        _ = try? await store.retire(worker: worker)
        _ = try? await store.dropLease(owner: worker)
        logger.info("worker stopped")
    }

    // MARK: Claiming

    private func claimLoop(group: inout DiscardingTaskGroup) async {
        while !stopping {
            let free = await gate.waitForFree()
            if stopping { break }
            do {
                var batch = try await store.claim(worker: worker, limit: min(free, configuration.claimBatch))
                if batch.isEmpty {
                    // Nothing queued: wait on the queue itself rather than poll it.
                    if let one = try await PaymentStore.claimBlocking(
                        client: blocking, keys: store.keys, worker: worker, timeoutSeconds: 0.5)
                    {
                        batch = [one]
                    }
                }
                gate.take(batch.count)
                for payment in batch {
                    inHand.withLockedValue { _ = $0.insert(payment.payload) }
                    group.addTask {
                        await self.process(payment)
                        self.inHand.withLockedValue { _ = $0.remove(payment.payload) }
                        self.gate.give()
                    }
                }
            } catch {
                logger.warning("claim failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: One payment

    func process(_ payment: QueuedPayment) async {
        var attempt: PaymentRecord.Attempt?
        var backoff: Int64 = 50
        while true {
            if attempt == nil {
                if stopping { return }
                guard let p = router.withLockedValue({ $0.choose(now: WallClock.nowMillis()) }) else {
                    // Both processors failing: hold the payment and look again shortly.
                    await held.wait()
                    continue
                }
                let proposed = PaymentRecord.Attempt(
                    amount: payment.amount, processor: p, requestedAt: WallClock.nowMillis(), pinned: false)
                guard let begun = await persist("begin", { try await self.store.begin(payment, proposed: proposed) })
                else { return }
                guard let record = begun else {
                    // Purged since it was queued: it must not go out.
                    _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
                    return
                }
                switch record {
                case .attempt(let a): attempt = a
                case .booked:
                    _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
                    return
                case .queued: return  // cannot happen: begin never leaves a payment queued
                }
            }
            guard let current = attempt else { continue }
            if stopping && current.pinned { return }
            if current.pinned {
                // A retry: make sure the payment was not purged (or booked by a copy) meanwhile.
                guard let stored = await persist("record", { try await self.store.record(id: payment.correlationID) })
                else { return }
                switch stored {
                case .some(.attempt): break
                default:
                    _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
                    return
                }
            }

            let startedAt = WallClock.nowMillis()
            router.withLockedValue { $0.callStarted(current.processor, now: startedAt) }
            let outcome = await processors.send(payment, attempt: current)
            let endedAt = WallClock.nowMillis()
            router.withLockedValue {
                $0.callEnded(current.processor, startedAt: startedAt, now: endedAt, outcome: outcome)
            }

            switch outcome {
            case .accepted:
                _ = await persist("book") {
                    try await self.store.book(payment, attempt: current, worker: self.worker)
                }
                return
            case .failed where !current.pinned:
                // The processor does not have it: the payment is free to go elsewhere, with a
                // new requestedAt, unless someone pinned or booked it meanwhile. It waits for a
                // processor here rather than by sending this attempt again: a payment held through
                // an outage must go out with a fresh requestedAt, or it would be booked far in the
                // past, inside windows the checker has already compared.
                var chosen: Processor?
                while chosen == nil {
                    if stopping { return }
                    chosen = router.withLockedValue { $0.choose(now: WallClock.nowMillis()) }
                    if chosen == nil { await held.wait() }
                }
                guard let next = chosen else { continue }
                let moved = PaymentRecord.Attempt(
                    amount: payment.amount, processor: next, requestedAt: WallClock.nowMillis(), pinned: false)
                switch await replace(payment, current, with: moved, "reroute") {
                case .attempt(let a): attempt = a
                case .restart: attempt = nil
                case .finished: return
                }
            case .failed, .unknown:
                if !current.pinned {
                    let pinned = PaymentRecord.Attempt(
                        amount: current.amount, processor: current.processor, requestedAt: current.requestedAt,
                        pinned: true)
                    switch await replace(payment, current, with: pinned, "pin") {
                    case .attempt(let a): attempt = a
                    case .restart: attempt = nil
                    case .finished: return
                    }
                }
                if stopping { return }
                // Only this processor with this requestedAt may have it: ask it again, later.
                try? await Task.sleep(for: .milliseconds(backoff))
                backoff = min(backoff * 2, 2_000)
            }
        }
    }

    enum Next {
        case attempt(PaymentRecord.Attempt)
        /// Start over from the stored record (gone: purged).
        case restart
        /// Nothing more to do here: booked by a copy, or the worker is stopping.
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
                    try await self.store.compareAndSet(
                        id: payment.correlationID, expected: .attempt(current), new: .attempt(new))
                })
        else { return .finished }
        switch stored {
        case .some(.attempt(let a)): return .attempt(a)
        case .some(.booked):
            _ = await persist("drop") { try await self.store.drop(payment, worker: self.worker) }
            return .finished
        default: return .restart
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
                try? await Task.sleep(for: .milliseconds(delay))
                waited += delay
                delay = min(delay * 2, 1_000)
            }
        }
    }

    // MARK: Liveness, reaping and orphans

    private func livenessLoop() async {
        var tick = 0
        var suspects = Set<String>()
        while !finished {
            tick += 1
            do {
                try await store.heartbeat(worker: worker, ttlMillis: configuration.heartbeatTTLMillis)
                if tick % 2 == 0 {
                    let reaped = try await store.reapDeadWorkers()
                    if reaped > 0 {
                        logger.warning("took back payments of a dead worker", metadata: ["count": "\(reaped)"])
                    }
                }
                if tick % 4 == 0 {
                    // A claim whose reply was lost (Valkey restarted mid-command) leaves payloads
                    // on our list that no task holds. Seen twice in a row, they go back.
                    let listed = Set(try await store.processing(worker: worker))
                    let mine = inHand.withLockedValue { $0 }
                    let unheld = listed.subtracting(mine)
                    let orphans = unheld.intersection(suspects)
                    if !orphans.isEmpty {
                        let n = try await store.requeue(Array(orphans), worker: worker)
                        logger.warning("requeued orphaned payments", metadata: ["count": "\(n)"])
                    }
                    suspects = unheld.subtracting(orphans)
                }
            } catch {
                logger.debug("liveness round failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    // MARK: Held payments

    /// Wakes the held payments whenever the router would send one somewhere (a processor came
    /// back, or a probe is due).
    private func holdLoop() async {
        while !finished {
            try? await Task.sleep(for: .milliseconds(20))
            if held.count > 0, stopping || router.withLockedValue({ $0.wouldChoose(now: WallClock.nowMillis()) }) {
                held.wakeAll()
            }
        }
        held.wakeAll()
    }

    // MARK: Health

    private func healthLoop() async {
        var leader = false
        await withDiscardingTaskGroup { group in
            while !finished {
                let isLeader =
                    (try? await store.holdLease(owner: worker, ttlMillis: configuration.leaseMillis)) ?? false
                if isLeader != leader {
                    leader = isLeader
                    logger.info(leader ? "became health-polling leader" : "no longer leader")
                }
                if leader {
                    for p in Processor.allCases {
                        guard
                            (try? await store.mayPollHealth(p, intervalMillis: configuration.healthIntervalMillis))
                                == true
                        else { continue }
                        group.addTask {
                            do {
                                let started = WallClock.nowMillis()
                                let health = try await self.processors.health(p)
                                try await self.store.publishHealth(p, health)
                                self.logger.debug(
                                    "health polled",
                                    metadata: [
                                        "processor": "\(p)", "failing": "\(health.failing)",
                                        "minResponseTime": "\(health.minResponseTime)",
                                        "ms": "\(WallClock.nowMillis() - started)",
                                    ])
                            } catch {
                                self.logger.info(
                                    "health poll failed", metadata: ["processor": "\(p)", "error": "\(error)"])
                            }
                        }
                    }
                }
                if let shared = try? await store.readHealth() {
                    router.withLockedValue { router in
                        for (p, h) in shared {
                            router.healthPolled(
                                p, failing: h.failing, minResponseTime: h.minResponseTime, polledAt: h.polledAt)
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
