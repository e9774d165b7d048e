/// Count and exact total of the payments one processor accepted in a window.
public struct ProcessorTotals: Sendable, Equatable {
    public var totalRequests: Int64
    public var totalAmount: Money

    public init(totalRequests: Int64 = 0, totalAmount: Money = .zero) {
        self.totalRequests = totalRequests
        self.totalAmount = totalAmount
    }
}

/// The answer of `GET /payments-summary`.
public struct PaymentsSummary: Sendable, Equatable {
    public var `default`: ProcessorTotals
    public var fallback: ProcessorTotals

    public init(default: ProcessorTotals = .init(), fallback: ProcessorTotals = .init()) {
        self.default = `default`
        self.fallback = fallback
    }

    /// Exactly the contract's shape, with amounts as JSON numbers with two decimals.
    public var json: String {
        "{\"default\":{\"totalRequests\":\(self.default.totalRequests),\"totalAmount\":\(self.default.totalAmount)},"
            + "\"fallback\":{\"totalRequests\":\(fallback.totalRequests),\"totalAmount\":\(fallback.totalAmount)}}"
    }
}
