import NIOCore
import PaymentCore
import ValkeyClient

/// The API's side of the ledger: a payment accepted into the queue, the summary of what was
/// booked, the purge. They complete on the event loop the Valkey reply arrives on, in the same
/// tick, with no task hop; `accept`, every payment's call, also without a future.
extension PaymentStore {
    public enum AcceptOutcome: Sendable, Equatable {
        case queued
        /// The same correlationId with the same amount was accepted before: nothing new queued.
        case repeated
        /// The correlationId belongs to a payment with another amount: refused.
        case conflict
        /// Valkey ran the call after `deadlineMillis`: nothing stored (the client was told no).
        case late
    }

    /// Records and queues a payment once; a repeat (within the retention) changes nothing. Safe
    /// to send again after `connectionLost`. With a deadline (epoch ms, Valkey's clock), a call
    /// that Valkey only gets to later (stalled, or a backlog) stores nothing, so a client that was
    /// answered 503 at its deadline was told the truth.
    public func accept(
        _ payment: PaymentRequest, deadlineMillis: Int64 = 0, now: Int64 = WallClock.nowMillis()
    ) -> EventLoopFuture<AcceptOutcome> {
        let promise = client.eventLoop.makePromise(of: AcceptOutcome.self)
        accept(payment, deadlineMillis: deadlineMillis, now: now) { promise.completeWith($0) }
        return promise.futureResult
    }

    /// `accept` with its outcome handed to `onOutcome` on the client's event loop, in the tick
    /// Valkey's reply is read: every payment's path, so no future per call.
    public func accept(
        _ payment: PaymentRequest, deadlineMillis: Int64 = 0, now: Int64 = WallClock.nowMillis(),
        onOutcome: @escaping @Sendable (Result<AcceptOutcome, any Error>) -> Void
    ) {
        let b = retention.bucket(at: now)
        fcall(
            "accept", keys: [keys.payments(bucket: b), keys.payments(bucket: b - 1), keys.queue],
            args: [
                payment.correlationID, String(payment.amount.cents), String(b), String(retention.expiry(ofBucket: b)),
                String(deadlineMillis),
            ]
        ) { result in
            onOutcome(
                result.flatMap { reply in
                    switch reply {
                    case .integer(1): .success(.queued)
                    case .integer(0): .success(.repeated)
                    case .integer(-1): .success(.conflict)
                    case .integer(-2): .success(.late)
                    case .error(let message): .failure(ValkeyError.server(message))
                    default: .failure(ValkeyError.unexpectedReply("\(reply)"))
                    }
                })
        }
    }

    /// Totals booked per processor with requestedAt inside the inclusive window. Exact to the
    /// millisecond within the retention; beyond it, exact for whole hours (see `Retention`).
    public func summary(_ window: TimeWindow) -> EventLoopFuture<PaymentsSummary> {
        // The hours of the window's first and last whole seconds (as the function computes them).
        let firstSecond = window.from.map { ($0 + 999) / 1000 }
        let lastSecond = window.to.map { ($0 + 1) / 1000 - 1 }
        let firstHour = (firstSecond ?? lastSecond ?? 0) / 3600
        let lastHour = (lastSecond ?? firstSecond ?? 0) / 3600
        let k = Processor.allCases.flatMap {
            [keys.booked($0), keys.hours($0), keys.seconds($0, hour: firstHour), keys.seconds($0, hour: lastHour)]
        }
        return fcall("summary", keys: k, args: [window.from.map(String.init) ?? "", window.to.map(String.init) ?? ""])
            .flatMapThrowing { reply in
                guard case .array(let v) = reply, v.count == 4, let dn = v[0].integer, let dc = v[1].integer,
                    let fn = v[2].integer, let fc = v[3].integer
                else {
                    if case .error(let message) = reply { throw ValkeyError.server(message) }
                    throw ValkeyError.unexpectedReply("\(reply)")
                }
                return PaymentsSummary(
                    default: ProcessorTotals(totalRequests: dn, totalAmount: Money(cents: dc)),
                    fallback: ProcessorTotals(totalRequests: fn, totalAmount: Money(cents: fc)))
            }
    }

    /// Clears every payment queued or booked; attempts in flight finish (see the `purge`
    /// function). Returns how many attempts in flight were kept.
    @discardableResult
    public func purge(now: Int64 = WallClock.nowMillis()) -> EventLoopFuture<Int> {
        let b = retention.bucket(at: now)
        let records = (b - 2...b + 1).map { keys.payments(bucket: $0) }
        let firstHour = (now - retention.millis).hourOfMillis - 1
        let seconds = Processor.allCases.flatMap { p in
            (firstHour...now.hourOfMillis + 1).map { keys.seconds(p, hour: $0) }
        }
        return fcall(
            "purge", keys: [keys.queue] + keys.bookedAndHours + records + seconds, args: [String(records.count)]
        ).flatMapThrowing { reply in
            if case .error(let message) = reply { throw ValkeyError.server(message) }
            return Int(reply.integer ?? 0)
        }
    }
}
