import PaymentCore
import ValkeyClient

/// One worker of the stack (the lease holder) polls the processors' health endpoints, at most
/// once per interval stack-wide, and shares what it saw with every worker.
extension PaymentStore {
    /// Takes or renews the polling lease. True while `owner` is the leader.
    public func holdLease(owner: String, ttlMillis: Int) async throws -> Bool {
        try await fcallChecked("hold_lease", keys: [keys.leader], args: [owner, String(ttlMillis)]).integer == 1
    }

    public func dropLease(owner: String) async throws {
        _ = try await fcallChecked("drop_lease", keys: [keys.leader], args: [owner])
    }

    /// Stack-wide gate: true at most once per `intervalMillis` per processor, whoever asks.
    public func mayPollHealth(_ p: Processor, intervalMillis: Int) async throws -> Bool {
        try await fcallChecked("may_poll", keys: [keys.healthPoll(p)], args: [String(intervalMillis)]).integer == 1
    }

    public func publishHealth(_ p: Processor, _ health: ProcessorHealth) async throws {
        _ = try await fcallChecked("publish_health", keys: [keys.health(p)], args: [health.text, "60000"])
    }

    public func readHealth() async throws -> [Processor: ProcessorHealth] {
        let reply = try await client.call("MGET", keys.health(.default), keys.health(.fallback))
        var result: [Processor: ProcessorHealth] = [:]
        for (p, value) in zip(Processor.allCases, reply.array ?? []) {
            if let text = value.string, let h = ProcessorHealth(text: text) { result[p] = h }
        }
        return result
    }
}

/// The shared text of a health reading: `failing|minResponseTime|polledAt`.
extension ProcessorHealth {
    public var text: String { "\(failing ? 1 : 0)|\(minResponseTime)|\(polledAt)" }

    public init?(text: String) {
        let parts = text.split(separator: "|")
        guard parts.count == 3, let rt = Int(parts[1]), let at = Int64(parts[2]) else { return nil }
        self.init(failing: parts[0] == "1", minResponseTime: rt, polledAt: at)
    }
}
