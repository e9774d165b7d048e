/// Why a client's input was refused; `message` is short and safe to send back in a 400.
public struct InvalidInput: Error, Equatable, Sendable {
    public var message: String

    public init(message: String) { self.message = message }
}
