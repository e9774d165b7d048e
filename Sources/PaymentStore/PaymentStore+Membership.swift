import NIOCore
import ValkeyClient

/// Which workers are alive, and what a worker that stops or dies held: handed back to the queue
/// by the worker itself (graceful stop, start-up) or by any other (its heartbeat expired).
extension PaymentStore {
    /// Hands every payload of the worker's list back to the queue (graceful stop, or start-up).
    @discardableResult
    public func release(worker: String) async throws -> Int {
        Int(try await fcallChecked("release", keys: [keys.processing(worker), keys.queue], args: []).integer ?? 0)
    }

    /// Hands back these payloads if they are still on the worker's list.
    @discardableResult
    public func requeue(_ payloads: [String], worker: String) async throws -> Int {
        guard !payloads.isEmpty else { return 0 }
        return Int(
            try await fcallChecked("requeue", keys: [keys.processing(worker), keys.queue], args: payloads)
                .integer ?? 0)
    }

    /// Every payload on the worker's processing list.
    public func processing(worker: String) async throws -> [String] {
        (try await client.call("LRANGE", keys.processing(worker), "0", "-1").array ?? []).compactMap(\.string)
    }

    /// Marks the worker alive for `ttlMillis`.
    public func heartbeat(worker: String, ttlMillis: Int) async throws {
        _ = try await fcallChecked(
            "heartbeat", keys: [keys.workers, keys.heartbeat(worker)], args: [worker, String(ttlMillis)])
    }

    /// Removes the worker's liveness (graceful stop).
    public func retire(worker: String) async throws {
        _ = try await fcallChecked("retire", keys: [keys.workers, keys.heartbeat(worker)], args: [worker])
    }

    /// Returns the payloads of workers whose heartbeat expired to the queue. Two calls: the
    /// workers' set is read first, so that every key the function touches is passed to it.
    @discardableResult
    public func reapDeadWorkers() async throws -> Int {
        let workers = (try await client.call("SMEMBERS", keys.workers).array ?? []).compactMap(\.string)
        guard !workers.isEmpty else { return 0 }
        let perWorker = workers.flatMap { [keys.heartbeat($0), keys.processing($0)] }
        return Int(
            try await fcallChecked("reap", keys: [keys.workers, keys.queue] + perWorker, args: workers).integer ?? 0)
    }
}
