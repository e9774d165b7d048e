/// Caps how many payments one worker claims per second while it drains a backlog (a token bucket
/// holding at most one claim's batch). A backlog is there while claims come back full (the queue
/// held at least what was asked); a steady load, whose claims come back short, is never paced and
/// keeps its rhythm however close to the cap. A backlog left by an outage then drains at a steady
/// pace instead of in one burst. Paced, the preview's per-phase counts put 32 of its drain on
/// fallback against 1,300-1,500 unpaced (README, "Draining a backlog"). Why a burst lands on
/// fallback is inferred, not logged: it goes out in the first moments after the outage, before
/// default is seen back, and likely loads two cores enough that default's calls stay out past
/// the router's stall bound. The request path's p99 moved within the runs' spread.
///
/// A backlog the pace has not cleared within `patienceMillis` is more than a drain: arrivals
/// outrun the cap. It is then claimed at full speed until the queue is empty, so the cap never
/// lets a queue grow without bound. Integer arithmetic in thousandths of a payment.
struct ClaimPacer: Sendable {
    /// Payments per second; 0: no cap.
    let perSecond: Int
    let patienceMillis: Int64
    private let capacity: Int64
    private var available: Int64
    private var refilledAt: Int64
    /// The last claim came back full: a backlog is draining.
    private var draining = false
    /// When the claim loop first waited for the pace since the queue was last empty.
    private var pacedSince: Int64?
    private var outrun = false

    init(perSecond: Int, burst: Int, patienceMillis: Int64 = 10_000, now: Int64) {
        self.perSecond = max(0, perSecond)
        self.patienceMillis = patienceMillis
        self.capacity = Int64(max(1, burst)) * 1000
        self.available = capacity
        self.refilledAt = now
    }

    /// Whether claims go at full speed now (no cap, no backlog, or a backlog that outran the cap).
    var unpaced: Bool { perSecond == 0 || !draining || outrun }

    /// How many payments may be claimed at `now`.
    mutating func allowance(now: Int64) -> Int {
        guard !unpaced else { return Int.max }
        refill(now: now)
        return Int(max(0, available / 1000))
    }

    /// Milliseconds until `count` payments (at most one batch) may be claimed at once (at least
    /// 1), counted as a wait for the pace.
    mutating func wait(for count: Int, now: Int64) -> Int64 {
        guard !unpaced else { return 0 }
        let since = pacedSince ?? now
        pacedSince = since
        if now - since >= patienceMillis {
            outrun = true
            return 0
        }
        let missing = min(capacity, Int64(max(1, count)) * 1000) - available
        return max(1, (missing + Int64(perSecond) - 1) / Int64(perSecond))
    }

    /// A claim asked for `limit` payments and took `count` (an adopted payment past the
    /// allowance may take it below zero). As many as asked: a backlog; fewer: the queue is empty,
    /// the backlog gone.
    mutating func claimed(_ count: Int, of limit: Int, now: Int64) {
        let paced = !unpaced
        if count < limit || limit <= 0 {
            draining = false
            pacedSince = nil
            outrun = false
        } else {
            draining = true
        }
        guard paced else { return }
        refill(now: now)
        available -= Int64(count) * 1000
    }

    private mutating func refill(now: Int64) {
        let elapsed = now - refilledAt
        guard elapsed > 0 else {
            // A wall clock stepped back: pace from here rather than stall until it catches up.
            if elapsed < 0 { refilledAt = now }
            return
        }
        // perSecond payments per 1,000 ms is perSecond thousandths per millisecond.
        available = min(capacity, available + elapsed * Int64(perSecond))
        refilledAt = now
    }
}
