import NIOConcurrencyHelpers
import NIOCore
import PaymentCore
import ValkeyClient

/// The payments' shared state in Valkey, one file per side of it: the API's intake and summary
/// (`+Intake`), a worker's attempts (`+Attempts`), the workers' membership (`+Membership`) and the
/// shared health (`+HealthSharing`). Each method is one call of the lifecycle library
/// (`PaymentLifecycle`), except where it says otherwise. The calls on the request and booking
/// paths return futures, completed on the client's event loop (no task hop); the rest are
/// `async`.
public struct PaymentStore: Sendable {
    public let client: ValkeyClient
    public let keys: StoreKeys
    public let retention: Retention
    private let loader = LibraryLoader()
    let trimSchedule = TrimSchedule()

    public init(client: ValkeyClient, keys: StoreKeys = StoreKeys(), retention: Retention = .day) {
        self.client = client
        self.keys = keys
        self.retention = retention
    }

    /// Calls a function of the lifecycle library. A server that does not have the library yet
    /// (new, or emptied) gets it loaded and the call sent again: loading is idempotent and the
    /// call had not run.
    func fcall(_ name: String, keys: [String], args: [String]) -> EventLoopFuture<RESPValue> {
        let promise = client.eventLoop.makePromise(of: RESPValue.self)
        fcall(name, keys: keys, args: args) { promise.completeWith($0) }
        return promise.futureResult
    }

    /// `fcall` with its reply handed to `onReply` on the client's event loop, in the tick it is
    /// read: the request path's form, with no future per call.
    func fcall(
        _ name: String, keys: [String], args: [String],
        onReply: @escaping @Sendable (Result<RESPValue, any Error>) -> Void
    ) {
        let command = RESPCommand(["FCALL", PaymentLifecycle.function(name), String(keys.count)] + keys + args)
        let client = self.client
        let loader = self.loader
        client.send(command) { result in
            guard case .success(.error(let message)) = result, message.contains("Function not found") else {
                onReply(result)
                return
            }
            loader.load(on: client).whenComplete { loaded in
                switch loaded {
                case .success(.error), .failure: onReply(loaded)
                case .success: client.send(command, onReply: onReply)
                }
            }
        }
    }

    func fcallChecked(_ name: String, keys: [String], args: [String]) async throws -> RESPValue {
        let reply = try await fcall(name, keys: keys, args: args).get()
        if case .error(let message) = reply { throw ValkeyError.server(message) }
        return reply
    }

    /// Whether the store's Valkey connection is up (the API's health check).
    public var isConnected: EventLoopFuture<Bool> { client.isConnected }

    /// How many payments wait in the queue.
    public func queueLength() async throws -> Int {
        Int(try await client.call("LLEN", keys.queue).integer ?? 0)
    }

    /// The stored record of a payment, if any.
    public func record(of payment: QueuedPayment) async throws -> PaymentRecord? {
        try await client.call("HGET", keys.payments(bucket: payment.bucket), payment.correlationID).string.flatMap(
            PaymentRecord.init(text:))
    }

}

/// When `book` also trims the booked payments past the retention: once a second per store is
/// plenty (a summary's exact edges only need the last retention), where every call would add
/// two commands to every booking at low load.
final class TrimSchedule: Sendable {
    private let lastSecond = NIOLockedValueBox<Int64>(Int64.min)

    /// True for the first call of each second (epoch ms `now`).
    func isDue(now: Int64) -> Bool {
        lastSecond.withLockedValue { last in
            let second = now / 1000
            guard second != last else { return false }
            last = second
            return true
        }
    }
}
