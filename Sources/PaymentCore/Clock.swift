#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock time in epoch milliseconds (the unit of every `requestedAt`).
public enum WallClock {
    public static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
