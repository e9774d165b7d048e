import TextFormats

/// A payment as accepted from a client: a UUID and a positive exact amount.
public struct PaymentRequest: Sendable, Equatable {
    public var correlationID: String
    public var amount: Money

    public init(correlationID: String, amount: Money) {
        self.correlationID = correlationID
        self.amount = amount
    }

    /// Validates a `POST /payments` body. Unknown members are ignored; a repeated member,
    /// a wrong type, a non-UUID correlationId or an amount that is not a positive number with at
    /// most two decimals is refused.
    public static func parse<C: Collection>(body: C) -> Result<PaymentRequest, InvalidInput> where C.Element == UInt8 {
        guard let members = JSONScanner.parseObject(body) else {
            return .failure(InvalidInput(message: "body must be a JSON object"))
        }
        var id: String?
        var amountText: Substring?
        for (key, value) in members {
            switch key {
            case "correlationId":
                guard id == nil else { return .failure(InvalidInput(message: "correlationId given twice")) }
                guard case .string(let s) = value else {
                    return .failure(InvalidInput(message: "correlationId must be a string"))
                }
                id = s
            case "amount":
                guard amountText == nil else { return .failure(InvalidInput(message: "amount given twice")) }
                guard case .number(let n) = value else {
                    return .failure(InvalidInput(message: "amount must be a number"))
                }
                amountText = n
            default:
                continue
            }
        }
        guard let id else { return .failure(InvalidInput(message: "correlationId is required")) }
        guard let amountText else { return .failure(InvalidInput(message: "amount is required")) }
        guard CorrelationID.isValid(id) else { return .failure(InvalidInput(message: "correlationId must be a UUID")) }
        guard let amount = Money.parse(amountText), amount.cents > 0 else {
            return .failure(InvalidInput(message: "amount must be a positive number with at most 2 decimals"))
        }
        return .success(PaymentRequest(correlationID: id.lowercased(), amount: amount))
    }
}
