import PaymentCore

/// A payment's state as stored in the `payments` hash, as text:
/// - `Q|cents`: accepted and queued, never sent;
/// - `A|cents|p|ms|pinned`: an attempt to processor `p` with requestedAt `ms`; `pinned` 1 once the
///   outcome of a send was unknown (timeout, reset, crash): from then on only that processor and
///   that requestedAt may be used;
/// - `B|cents|p|ms`: booked.
/// The transitions between them, drawn, and the Lua that performs them: `PaymentLifecycle.swift`.
public enum PaymentRecord: Sendable, Equatable {
    case queued(amount: Money)
    case attempt(Attempt)
    case booked(amount: Money, processor: Processor, requestedAt: Int64)

    public struct Attempt: Sendable, Equatable {
        public var amount: Money
        public var processor: Processor
        public var requestedAt: Int64
        public var pinned: Bool

        public init(amount: Money, processor: Processor, requestedAt: Int64, pinned: Bool) {
            self.amount = amount
            self.processor = processor
            self.requestedAt = requestedAt
            self.pinned = pinned
        }

        public var text: String { "A|\(amount.cents)|\(processor.code)|\(requestedAt)|\(pinned ? 1 : 0)" }
    }

    public init?(text: String) {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count >= 2, let cents = Int64(parts[1]) else { return nil }
        let amount = Money(cents: cents)
        switch parts[0] {
        case "Q" where parts.count == 2:
            self = .queued(amount: amount)
        case "A" where parts.count == 5:
            guard let p = Processor(code: parts[2]), let ms = Int64(parts[3]) else { return nil }
            self = .attempt(Attempt(amount: amount, processor: p, requestedAt: ms, pinned: parts[4] == "1"))
        case "B" where parts.count == 4:
            guard let p = Processor(code: parts[2]), let ms = Int64(parts[3]) else { return nil }
            self = .booked(amount: amount, processor: p, requestedAt: ms)
        default:
            return nil
        }
    }

    public var text: String {
        switch self {
        case .queued(let amount): return "Q|\(amount.cents)"
        case .attempt(let a): return a.text
        case .booked(let amount, let p, let ms): return "B|\(amount.cents)|\(p.code)|\(ms)"
        }
    }
}

/// A queued payment as it travels through the queue and processing lists: `id|cents|bucket`,
/// the bucket naming the hash that holds its record (see `Retention`).
public struct QueuedPayment: Sendable, Hashable {
    public var correlationID: String
    public var amount: Money
    public var bucket: Int64

    /// `bucket` 0 suits a payment that never went through a queue (a tool's, a test's).
    public init(correlationID: String, amount: Money, bucket: Int64 = 0) {
        self.correlationID = correlationID
        self.amount = amount
        self.bucket = bucket
    }

    public init?(payload: String) {
        let parts = payload.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, let cents = Int64(parts[1]), let bucket = Int64(parts[2]) else {
            return nil
        }
        self.correlationID = String(parts[0])
        self.amount = Money(cents: cents)
        self.bucket = bucket
    }

    public var payload: String { "\(correlationID)|\(amount.cents)|\(bucket)" }
}
