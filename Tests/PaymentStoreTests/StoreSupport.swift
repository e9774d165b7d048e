import PaymentCore
import PaymentStore
import TestSupport

/// A store on its own server, under a key prefix of its own. The retention defaults to ten
/// years, so that payments booked at fixed dates in the past stay exact to the millisecond.
func withStore(
    retention: Retention = Retention(millis: 10 * 365 * 86_400_000), _ body: (PaymentStore) async throws -> Void
) async throws {
    try await withValkey { (_, client) async throws in
        try await body(
            PaymentStore(
                client: client, keys: StoreKeys(prefix: "t\(UInt32.random(in: 0...UInt32.max))"), retention: retention)
        )
    }
}
