import API
import Logging
import NIOPosix
import PaymentCore
import PaymentStore
import TestSupport
import ValkeyClient

#if canImport(Glibc)
    import Glibc
#endif

/// An API on 127.0.0.1 and an ephemeral port in front of a valkey-server of its own, with a
/// store on the same keys (over a client of its own) to look at what the API did. `run` stops
/// all of it, test failure or not.
struct APIHarness {
    let valkey: ValkeyServer
    let api: APIServer
    let client: ValkeyClient
    let store: PaymentStore
    let port: Int

    static func run(_ body: (APIHarness) async throws -> Void) async throws {
        let valkey = try await ValkeyServer.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = APIConfiguration(
            listen: .tcp(host: "127.0.0.1", port: 0), valkey: .unix(path: valkey.socketPath))
        configuration.keyPrefix = "t\(UInt32.random(in: 0...UInt32.max))"
        let api: APIServer
        do {
            api = try await APIServer.start(
                configuration: configuration, group: group, logger: Logger(label: "api-test"))
        } catch {
            await valkey.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        let client = makeClient(valkey, on: group.next())
        let harness = APIHarness(
            valkey: valkey, api: api, client: client,
            store: PaymentStore(
                client: client, keys: StoreKeys(prefix: configuration.keyPrefix), retention: configuration.retention),
            port: api.http.port!)
        try await withCleanup {
            try await body(harness)
        } cleanup: {
            await api.close()
            await client.close()
            await valkey.stop()
            try? await group.shutdownGracefully()
        }
    }

    /// Sends `text` as it is on a new connection and reads the answer.
    func send(_ text: String) async throws -> RawHTTPResponse {
        let port = self.port
        return try await blocking { try RawHTTPClient(port: port).request(text) }
    }

    /// `method path`, with `body` as JSON if there is one, on a new connection.
    func request(_ method: String, _ path: String, body: String? = nil) async throws -> RawHTTPResponse {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: api\r\n"
        if let body {
            text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        } else {
            text += "\r\n"
        }
        return try await send(text)
    }

    func pay(_ id: String, _ amount: String) async throws -> RawHTTPResponse {
        try await request("POST", "/payments", body: #"{"correlationId":"\#(id)","amount":\#(amount)}"#)
    }

    func summary(_ query: String? = nil) async throws -> RawHTTPResponse {
        try await request("GET", "/payments-summary" + (query.map { "?" + $0 } ?? ""))
    }

    /// How many keys Valkey holds (the loaded function library is not a key).
    func keyCount() async throws -> Int {
        try await client.call(RESPCommand(["DBSIZE"])).integer.map { Int($0) } ?? -1
    }

    /// Takes the one payment on the queue, as a worker would, and books it at `processor` with
    /// `requestedAt` (epoch ms); returns what was claimed.
    func claimAndBook(_ processor: Processor, at requestedAt: Int64) async throws -> [QueuedPayment] {
        let claimed = try await store.claim(worker: "w", limit: 10, processor: processor, requestedAt: requestedAt)
        for c in claimed {
            let attempt = PaymentRecord.Attempt(
                amount: c.payment.amount, processor: processor, requestedAt: requestedAt, pinned: false)
            _ = try await store.book(c.payment, attempt: attempt, worker: "w")
        }
        return claimed.map(\.payment)
    }
}

/// `{"error":"<message>"}`, the API's short JSON error.
func errorJSON(_ message: String) -> String { #"{"error":"\#(message)"}"# }

/// The summary's JSON text, amounts as the contract writes them (two decimals).
func summaryJSON(default d: (Int, String), fallback f: (Int, String)) -> String {
    #"{"default":{"totalRequests":\#(d.0),"totalAmount":\#(d.1)},"fallback":{"totalRequests":\#(f.0),"totalAmount":\#(f.1)}}"#
}

/// `ms` (epoch milliseconds) as `YYYY-MM-DDTHH:MM:SS.mmm` (then `micros`) in UTC with `Z`, or, with
/// `offsetHours`, the same instant in local time at that offset followed by `+HH:00`.
func iso(_ ms: Int64, offsetHours: Int = 0, micros: String = "") -> String {
    var seconds = time_t((ms / 1000) + Int64(offsetHours) * 3600)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let millis = String(ms % 1000)
    let fraction = String(repeating: "0", count: 3 - millis.count) + millis + micros
    let zone = offsetHours == 0 ? "Z" : "+" + two(Int32(offsetHours)) + ":00"
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)\(zone)"
}
