import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What every executable of the stack does the same way at start-up.
public enum ProcessSupport {
    /// An environment variable's value; an empty one counts as unset (compose passes `VAR=`).
    /// Read with libc: Foundation's ProcessInfo would add megabytes to a static binary.
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Sends swift-log to standard error and returns the process's logger at `level`
    /// (trace, debug, info, notice, warning, error, critical; anything else means info).
    public static func logger(label: String, level: String?) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = level.flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }
}
