import PaymentStore

/// Liveness: this worker's heartbeat, taking back what dead workers held, and requeueing
/// payloads on this worker's own list that no task holds (a claim whose reply was lost).
extension WorkerEngine {
    func livenessLoop() async {
        var tick = 0
        var suspects = Set<String>()
        while !finished {
            tick += 1
            do {
                try await store.heartbeat(worker: worker, ttlMillis: configuration.heartbeatTTLMillis)
                if tick % 2 == 0 {
                    let reaped = try await store.reapDeadWorkers()
                    if reaped > 0 {
                        logger.warning("took back payments of a dead worker", metadata: ["count": "\(reaped)"])
                    }
                }
                if tick % 4 == 0 {
                    // A claim whose reply was lost (Valkey restarted mid-command) leaves payloads
                    // on our list that no task holds. Seen twice in a row, they go back.
                    let listed = Set(try await store.processing(worker: worker))
                    let mine = inHand.withLockedValue { $0 }
                    let unheld = listed.subtracting(mine)
                    let orphans = unheld.intersection(suspects)
                    if !orphans.isEmpty {
                        let n = try await store.requeue(Array(orphans), worker: worker)
                        logger.warning("requeued orphaned payments", metadata: ["count": "\(n)"])
                    }
                    suspects = unheld.subtracting(orphans)
                }
            } catch {
                logger.debug("liveness round failed", metadata: ["error": "\(error)"])
            }
            await loop.sleep(milliseconds: 500)
        }
    }
}
