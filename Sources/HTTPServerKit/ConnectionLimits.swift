import Atomics

/// Whether a client connection is between requests (nothing of a request received, no answer
/// pending). Its handler sets it on its own event loop; whoever enforces a connection limit reads
/// it elsewhere to pick a connection it may close to make room.
public final class ConnectionActivity: Sendable {
    private let idle = ManagedAtomic<Bool>(true)

    public init() {}

    public var isIdle: Bool { idle.load(ordering: .relaxed) }

    public func set(idle value: Bool) { idle.store(value, ordering: .relaxed) }
}

/// Bytes of unfinished requests that the connections of a server may hold together. The
/// per-connection limits bound one slow sender; this bounds many of them, which is what memory
/// attacks are made of. A request that arrives whole in one read is framed in place and never
/// charged, so the payment path does not touch it.
public final class BufferedBytesBudget: Sendable {
    public let limit: Int
    private let used = ManagedAtomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    public var inUse: Int { used.load(ordering: .relaxed) }

    /// Takes `bytes` from the budget; false (and nothing taken) if they do not fit.
    func charge(_ bytes: Int) -> Bool {
        let now = used.wrappingIncrementThenLoad(by: bytes, ordering: .relaxed)
        guard now > limit else { return true }
        used.wrappingDecrement(by: bytes, ordering: .relaxed)
        return false
    }

    func release(_ bytes: Int) {
        used.wrappingDecrement(by: bytes, ordering: .relaxed)
    }
}
