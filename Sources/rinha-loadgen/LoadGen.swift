import ArgumentParser
import NIOCore
import NIOPosix
import NetworkEndpoint

#if canImport(Glibc)
    import Glibc
#endif

/// Open-loop HTTP/1.1 load over TCP or a Unix socket: requests leave at a constant rate whatever
/// the server does, and each one's latency runs from when it was due (no coordinated omission).
@main
struct LoadGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rinha-loadgen",
        abstract:
            "Open-loop (constant arrival rate) HTTP/1.1 load generator over TCP or a Unix socket.",
        discussion: """
            Requests are due at a constant rate for --warmup + --duration seconds. A due request \
            takes an idle keep-alive connection, or opens one (up to --connections), or waits for \
            one; latency runs from the due time, so waiting counts. Only requests due after the \
            warmup enter the statistics.
            """)

    @Option(help: "host:port, http://host:port, or unix:/path/to.sock.")
    var target: String

    @Option(help: "Requests per second.")
    var rate: Double

    @Option(help: "Measured seconds (after the warmup).")
    var duration: Double

    @Option(help: "Seconds of load before the measurement, left out of the statistics.")
    var warmup: Double = 0

    @Option(help: "Keep-alive connections open at most (shared over the threads).")
    var connections: Int = 64

    @Option(help: "Event loop threads, each with its share of the rate and connections.")
    var threads: Int = 1

    @Option(help: "HTTP method.")
    var method: String = "POST"

    @Option(help: "Request path (with query string, sent as is).")
    var path: String = "/payments"

    @Option(help: "Request body; each {uuid} becomes a fresh UUID. Empty for no body.")
    var bodyTemplate: String = #"{"correlationId":"{uuid}","amount":19.90}"#

    @Option(help: "Seconds a request may wait for its answer (then its connection is closed).")
    var timeout: Double = 5

    @Option(help: "Latency samples kept at most (uniform reservoir beyond; max stays exact).")
    var maxSamples: Int = 10_000_000

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        guard Endpoint(parsing: target, defaultHost: "127.0.0.1") != nil else {
            throw ValidationError("bad --target: \(target)")
        }
        guard rate > 0, duration > 0, warmup >= 0, timeout > 0 else {
            throw ValidationError(
                "--rate, --duration and --timeout must be positive, --warmup not negative")
        }
        guard connections >= 1, threads >= 1, threads <= connections else {
            throw ValidationError("need 1 <= --threads <= --connections")
        }
    }

    func run() throws {
        var c = LoadConfiguration(
            target: Endpoint(parsing: target, defaultHost: "127.0.0.1")!, rate: rate, duration: duration)
        c.warmup = warmup
        c.connections = connections
        c.threads = threads
        c.method = method
        c.path = path
        c.bodyTemplate = bodyTemplate
        c.timeout = timeout
        c.maxSamples = maxSamples
        let record = try Self.execute(c)
        let report = LoadReport(configuration: c, record: record, loadgenCPUSeconds: Self.cpuSeconds())
        print(json ? report.json : report.text)
    }

    /// Runs the load on `configuration.threads` event loops and merges what they saw.
    static func execute(_ configuration: LoadConfiguration) throws -> RunRecord {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        defer { try? group.syncShutdownGracefully() }
        // A common start a little ahead, so every thread's first request is on time.
        let start = NIODeadline.now() + .milliseconds(50)
        var loops = group.makeIterator()
        var runs: [EventLoopFuture<RunRecord>] = []
        for thread in 0..<configuration.threads {
            let loop = loops.next()!
            runs.append(
                loop.flatSubmit {
                    LoadDriver(configuration: configuration, thread: thread, start: start, loop: loop).run()
                })
        }
        var merged = RunRecord(maxSamples: configuration.maxSamples, expected: 0)
        for run in runs { merged.merge(try run.wait()) }
        return merged
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
