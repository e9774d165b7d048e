import PaymentCore

/// One stored payment. `correlationId` is lower-cased (a UUID, compared case-insensitively);
/// `requestedAtMicros` is the epoch-microsecond instant of the first successful call.
struct StoredPayment: Sendable, Equatable {
    var correlationId: String
    var amount: Money
    var requestedAtMicros: Int64
}

/// A count of payments and their exact sum.
struct PaymentTotals: Sendable, Equatable {
    var count: Int = 0
    var amount: Money = .zero

    mutating func add(_ amount: Money) {
        count += 1
        self.amount += amount
    }

    static func + (lhs: PaymentTotals, rhs: PaymentTotals) -> PaymentTotals {
        PaymentTotals(count: lhs.count + rhs.count, amount: lhs.amount + rhs.amount)
    }
}

/// The processor's stored payments, in memory. Invariant: `total` and every bucket's totals are
/// the sums of the payments they cover. Inserting is O(1); a summary costs one step per
/// distinct second that holds payments, plus a scan of the (at most two) seconds cut by a bound.
struct PaymentLedger: Sendable {
    enum InsertResult: Equatable {
        case inserted
        case duplicate
        /// The ledger's sum would overflow: the amount is refused.
        case tooLarge
    }

    /// The payments whose `requestedAt` falls in one second.
    private struct SecondBucket: Sendable {
        var totals = PaymentTotals()
        var entries: [(micros: Int64, amount: Money)] = []

        mutating func add(micros: Int64, amount: Money) {
            totals.add(amount)
            entries.append((micros, amount))
        }
    }

    private var byID: [String: StoredPayment] = [:]
    private var buckets: [Int64: SecondBucket] = [:]
    private(set) var total = PaymentTotals()

    var count: Int { byID.count }

    mutating func insert(_ payment: StoredPayment) -> InsertResult {
        if byID[payment.correlationId] != nil { return .duplicate }
        if total.amount.cents.addingReportingOverflow(payment.amount.cents).overflow {
            return .tooLarge
        }
        byID[payment.correlationId] = payment
        total.add(payment.amount)
        let second = Self.second(of: payment.requestedAtMicros)
        buckets[second, default: SecondBucket()].add(
            micros: payment.requestedAtMicros, amount: payment.amount)
        return .inserted
    }

    func payment(id: String) -> StoredPayment? { byID[id] }

    /// Payments with `from <= requestedAt <= to` (a nil bound is unbounded).
    func summary(from: Int64?, to: Int64?) -> PaymentTotals {
        if from == nil && to == nil { return total }
        let low = from ?? .min
        let high = to ?? .max
        if low > high { return PaymentTotals() }
        var result = PaymentTotals()
        for (second, bucket) in buckets {
            let start = second * 1_000_000
            let end = start + 999_999
            if low <= start && end <= high {
                result = result + bucket.totals
            } else if end >= low && start <= high {
                for entry in bucket.entries where low <= entry.micros && entry.micros <= high {
                    result.add(entry.amount)
                }
            }
        }
        return result
    }

    mutating func removeAll() {
        byID.removeAll()
        buckets.removeAll()
        total = PaymentTotals()
    }

    /// Floor division, so that instants before 1970 land in the right second too.
    static func second(of micros: Int64) -> Int64 {
        micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
    }
}
