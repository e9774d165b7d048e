/// What a processor's health endpoint said, and when (epoch ms).
public struct ProcessorHealth: Sendable, Equatable {
    public var failing: Bool
    public var minResponseTime: Int
    public var polledAt: Int64

    public init(failing: Bool, minResponseTime: Int, polledAt: Int64) {
        self.failing = failing
        self.minResponseTime = minResponseTime
        self.polledAt = polledAt
    }
}
