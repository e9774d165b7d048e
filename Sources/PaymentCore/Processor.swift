/// The two payment processors. `default` is always the cheaper one.
public enum Processor: String, Sendable, CaseIterable, Hashable {
    case `default`
    case fallback

    /// The other processor, where a payment may go after a definite failure.
    public var other: Processor { self == .default ? .fallback : .default }

    /// One-letter code used inside stored records.
    public var code: String { self == .default ? "d" : "f" }

    public init?(code: Substring) {
        switch code {
        case "d": self = .default
        case "f": self = .fallback
        default: return nil
        }
    }
}
