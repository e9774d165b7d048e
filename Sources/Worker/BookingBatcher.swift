import Logging
import NIOCore
import PaymentStore
import ValkeyClient

/// Books the payments that processors accepted in batches: the answers that arrive within the
/// linger of the first (or within one event-loop tick, without a linger) go to Valkey in one
/// `book` call, or sooner once they fill a batch or the worker claims (`flushNow`). A failed
/// call (Valkey restarting) is sent again after a pause; booking is idempotent, so a lost reply
/// costs nothing.
final class BookingBatcher: @unchecked Sendable {
    private let store: PaymentStore
    private let worker: String
    private let eventLoop: any EventLoop
    private let logger: Logger
    /// Largest batch per call: keeps one call's Lua run short.
    private let maxBatch: Int

    // Confined to `eventLoop`.
    private var pending: [(PaymentStore.Booking, @Sendable () -> Void)] = []
    private var flushScheduled = false
    /// The linger's timer while one runs: a batch filled before it ends goes at once, and the
    /// timer with it.
    private var lingerTimer: Scheduled<Void>?

    /// How long the first booking of a batch waits for others (zero: the next tick).
    private let linger: TimeAmount

    init(
        store: PaymentStore, worker: String, eventLoop: any EventLoop, logger: Logger, maxBatch: Int = 256,
        linger: TimeAmount = .zero
    ) {
        self.store = store
        self.worker = worker
        self.eventLoop = eventLoop
        self.logger = logger
        self.maxBatch = maxBatch
        self.linger = linger
    }

    /// Completes once the booking is stored.
    func book(_ booking: PaymentStore.Booking) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        book(booking) { promise.succeed() }
        return promise.futureResult
    }

    /// `stored` runs on the event loop once the booking is stored (every payment's booking: a
    /// callback, not a future).
    func book(_ booking: PaymentStore.Booking, stored: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop {
            pending.append((booking, stored))
            scheduleFlush()
        } else {
            eventLoop.execute {
                self.pending.append((booking, stored))
                self.scheduleFlush()
            }
        }
    }

    private func scheduleFlush() {
        if pending.count >= maxBatch {
            flush()
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        if linger > .zero {
            lingerTimer = eventLoop.scheduleTask(in: linger) { self.flush() }
        } else {
            // After the tasks already queued on the loop: the other answers read in this tick join.
            eventLoop.execute { self.flush() }
        }
    }

    /// Sends what waits now rather than at the linger's end. The claim loop calls it just before
    /// a claim: both calls then leave in the same event-loop tick (one write), Valkey reads them in
    /// one wake-up and answers both in one write, so the booking costs neither side a wake-up of
    /// its own (called off the loop, it still sends them, a tick later).
    func flushNow() {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.flushNow() } }
        if !pending.isEmpty { flush() }
    }

    private func flush() {
        flushScheduled = false
        lingerTimer?.cancel()
        lingerTimer = nil
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            send(batch, attempt: 0)
        }
    }

    private func send(_ batch: [(PaymentStore.Booking, @Sendable () -> Void)], attempt: Int) {
        store.book(batch.map(\.0), worker: worker).hop(to: eventLoop).whenComplete { result in
            switch result {
            case .success:
                for (_, stored) in batch { stored() }
            case .failure(let error):
                if attempt == 0 || attempt % 50 == 0 {
                    self.logger.warning(
                        "booking failed, retrying", metadata: ["count": "\(batch.count)", "error": "\(error)"])
                }
                let pause = TimeAmount.milliseconds(Int64(min(20 << min(attempt, 5), 500)))
                self.eventLoop.scheduleTask(in: pause) { self.send(batch, attempt: attempt + 1) }
            }
        }
    }
}
