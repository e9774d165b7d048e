import PaymentCore
import PaymentStore

/// Health leadership: one worker of the stack (the lease holder) polls the processors' health
/// endpoints, at most once per interval per processor stack-wide, and shares what it saw;
/// every worker reads the shared view into its router.
extension WorkerEngine {
    func healthLoop() async {
        var leader = false
        await withDiscardingTaskGroup { group in
            while !finished {
                let isLeader =
                    (try? await store.holdLease(owner: worker, ttlMillis: configuration.leaseMillis)) ?? false
                if isLeader != leader {
                    leader = isLeader
                    logger.info(leader ? "became health-polling leader" : "no longer leader")
                }
                if leader {
                    for p in Processor.allCases {
                        guard
                            (try? await store.mayPollHealth(p, intervalMillis: configuration.healthIntervalMillis))
                                == true
                        else { continue }
                        group.addTask {
                            do {
                                let started = WallClock.nowMillis()
                                let health = try await self.processors.health(p)
                                try await self.store.publishHealth(p, health)
                                self.logger.debug(
                                    "health polled",
                                    metadata: [
                                        "processor": "\(p)", "failing": "\(health.failing)",
                                        "minResponseTime": "\(health.minResponseTime)",
                                        "ms": "\(WallClock.nowMillis() - started)",
                                    ])
                            } catch {
                                self.logger.info(
                                    "health poll failed", metadata: ["processor": "\(p)", "error": "\(error)"])
                            }
                        }
                    }
                }
                if let shared = try? await store.readHealth() {
                    router.withLockedValue { router in
                        for (p, health) in shared { router.healthPolled(p, health) }
                    }
                }
                await loop.sleep(milliseconds: 500)
            }
        }
    }
}
