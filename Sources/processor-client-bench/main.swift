// Counts what one processor call costs the calling process with the worker's ProcessorClient and
// with the AsyncHTTPClient-based client it replaced, side by side in one run against one
// processor (start one first: `processor-simulator --port 58001 --host 127.0.0.1`).
//
//   processor-client-bench [url] [calls] [concurrency] [only]
//
// Prints, per call: voluntary and involuntary context switches and CPU time of this process
// (getrusage), and each figure as a ratio to AsyncHTTPClient's. `only` (ahc, lean, lean-future)
// runs just one client, for `strace -f -c`.
import AsyncHTTPClient
import Logging
import NIOCore
import NIOPosix
import PaymentCore
import PaymentStore
import Worker

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
let url = arguments.count > 1 ? arguments[1] : "http://127.0.0.1:58001"
let calls = arguments.count > 2 ? Int(arguments[2]) ?? 2_000 : 2_000
let concurrency = arguments.count > 3 ? Int(arguments[3]) ?? 1 : 1
let only = arguments.count > 4 ? arguments[4] : nil
let logger = Logger(label: "processor-client-bench")

/// The client the worker used before: AsyncHTTPClient configured as it was, the same request.
struct AsyncHTTPClientBaseline {
    let http: HTTPClient
    let url: String

    init(group: any EventLoopGroup, url: String) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        configuration.timeout = .init(connect: .milliseconds(1000))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        configuration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        self.url = url
    }

    func send(_ payment: QueuedPayment, requestedAt: Int64) async -> Bool {
        var request = HTTPClientRequest(url: url + "/payments")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body =
            "{\"correlationId\":\"\(payment.correlationID)\",\"amount\":\(payment.amount),\"requestedAt\":\"\(Timestamp.format(millis: requestedAt))\"}"
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await http.execute(request, timeout: .seconds(10), logger: logger)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return response.status.code == 200
        } catch {
            return false
        }
    }
}

struct Usage {
    var voluntary: Int
    var involuntary: Int
    var cpuMicros: Int

    static func now() -> Usage {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Usage(
            voluntary: u.ru_nvcsw, involuntary: u.ru_nivcsw,
            cpuMicros: (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1_000_000 + u.ru_utime.tv_usec + u.ru_stime.tv_usec)
    }

    static func - (a: Usage, b: Usage) -> Usage {
        Usage(
            voluntary: a.voluntary - b.voluntary, involuntary: a.involuntary - b.involuntary,
            cpuMicros: a.cpuMicros - b.cpuMicros)
    }
}

/// Unique ids across the whole run: the processor stores every payment.
nonisolated(unsafe) var nextID = UInt64.random(in: 0..<(1 << 44))

func payments(_ n: Int) -> [QueuedPayment] {
    (0..<n).map { _ in
        nextID += 1
        let hex = String(nextID, radix: 16)
        return QueuedPayment(
            correlationID: "00000000-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex,
            amount: Money(cents: 1990))
    }
}

/// Runs `body` over `list` from `concurrency` tasks; returns how many succeeded.
func drive(_ list: [QueuedPayment], _ body: @escaping @Sendable (QueuedPayment) async -> Bool) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        for lane in 0..<concurrency {
            group.addTask {
                var ok = 0
                for i in stride(from: lane, to: list.count, by: concurrency) where await body(list[i]) { ok += 1 }
                return ok
            }
        }
        return await group.reduce(0, +)
    }
}

/// The engine's planned use: calls chained on the event loop itself, no task per call.
func driveFutures(_ client: ProcessorClient, _ list: [QueuedPayment]) async -> Int {
    let loop = client.eventLoop
    let done = loop.makePromise(of: Int.self)
    let lanes = min(concurrency, list.count)
    let requestedAt = WallClock.nowMillis()
    loop.execute {
        final class State {
            var next = 0
            var ok = 0
            var finished = 0
        }
        let state = State()
        func start() {
            guard state.next < list.count else {
                state.finished += 1
                if state.finished == lanes { done.succeed(state.ok) }
                return
            }
            let payment = list[state.next]
            state.next += 1
            let attempt = PaymentRecord.Attempt(
                amount: payment.amount, processor: .default, requestedAt: requestedAt, pinned: false)
            client.sendFuture(payment, attempt: attempt).assumeIsolated().whenSuccess { outcome in
                if outcome == .accepted { state.ok += 1 }
                start()
            }
        }
        for _ in 0..<lanes { start() }
    }
    return (try? await done.futureResult.get()) ?? 0
}

let baselineGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let leanGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let baseline = AsyncHTTPClientBaseline(group: baselineGroup, url: url)
let lean = ProcessorClient(
    eventLoop: leanGroup.next(), baseURLs: [.default: url], timeoutMillis: 10_000, maxConnections: 64, logger: logger)

let kinds = only.map { [$0] } ?? ["ahc", "lean", "lean-future"]
var totals: [String: Usage] = [:]
var oks: [String: Int] = [:]
let rounds = 3
for round in 0..<rounds {
    // Alternate the order so that neither client always runs on a warmer machine.
    for kind in round % 2 == 0 ? kinds : kinds.reversed() {
        let warmup = payments(200)
        let list = payments(calls / rounds)
        let requestedAt = WallClock.nowMillis()
        let attempt = PaymentRecord.Attempt(
            amount: Money(cents: 1990), processor: .default, requestedAt: requestedAt, pinned: false)
        let before: Usage
        let ok: Int
        switch kind {
        case "ahc":
            _ = await drive(warmup) { await baseline.send($0, requestedAt: requestedAt) }
            before = Usage.now()
            ok = await drive(list) { await baseline.send($0, requestedAt: requestedAt) }
        case "lean":
            _ = await drive(warmup) { await lean.send($0, attempt: attempt) == .accepted }
            before = Usage.now()
            ok = await drive(list) { await lean.send($0, attempt: attempt) == .accepted }
        default:
            _ = await driveFutures(lean, warmup)
            before = Usage.now()
            ok = await driveFutures(lean, list)
        }
        let used = Usage.now() - before
        totals[kind, default: Usage(voluntary: 0, involuntary: 0, cpuMicros: 0)] =
            totals[kind, default: Usage(voluntary: 0, involuntary: 0, cpuMicros: 0)] + used
        oks[kind, default: 0] += ok
    }
}

extension Usage {
    static func + (a: Usage, b: Usage) -> Usage {
        Usage(
            voluntary: a.voluntary + b.voluntary, involuntary: a.involuntary + b.involuntary,
            cpuMicros: a.cpuMicros + b.cpuMicros)
    }
}

func fixed(_ x: Double) -> String {
    let scaled = (x * 100).rounded() / 100
    return String(scaled)
}

let n = Double(calls / rounds * rounds)
print("calls per client: \(Int(n)), concurrency: \(concurrency), processor: \(url)")
print("client        ok    vol.cs/call  invol.cs/call  cpu-us/call   ratios to ahc (vol, invol, cpu)")
let base = totals["ahc"]
for kind in kinds {
    guard let u = totals[kind] else { continue }
    let v = Double(u.voluntary) / n
    let i = Double(u.involuntary) / n
    let c = Double(u.cpuMicros) / n
    var line =
        "\(kind.padding(12)) \(String(oks[kind] ?? 0).padding(5)) \(fixed(v).padding(12)) \(fixed(i).padding(14)) \(fixed(c).padding(12))"
    if let base, base.voluntary > 0 {
        line +=
            "  \(fixed(Double(u.voluntary) / Double(base.voluntary))), \(fixed(Double(u.involuntary) / Double(max(1, base.involuntary)))), \(fixed(Double(u.cpuMicros) / Double(base.cpuMicros)))"
    }
    print(line)
}
print("connections opened by the lean client: \(await lean.connectionsMade()[.default] ?? 0)")

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

try? await baseline.http.shutdown()
await lean.shutdown()
try? await baselineGroup.shutdownGracefully()
try? await leanGroup.shutdownGracefully()
