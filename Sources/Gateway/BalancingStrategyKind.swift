/// The strategies a user can name on the command line. The only place that maps a name to a
/// type is `GatewayServer.start`, which resolves it once so the hot path is specialised.
public enum BalancingStrategyKind: String, CaseIterable, Sendable {
    case roundRobin = "round-robin"
    case leastConnections = "least-connections"
    case random = "random"
    case powerOfTwo = "power-of-two"
    case leastLatency = "least-latency"

    /// The type this name stands for; `GatewayServer.start` opens it once into a generic call.
    var strategyType: any BalancingStrategy.Type {
        switch self {
        case .roundRobin: RoundRobin.self
        case .leastConnections: LeastConnections.self
        case .random: RandomChoice.self
        case .powerOfTwo: PowerOfTwoChoices.self
        case .leastLatency: LeastLatency.self
        }
    }
}
