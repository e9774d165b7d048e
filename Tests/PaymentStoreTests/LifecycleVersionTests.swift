import PaymentCore
import TestSupport
import Testing
import ValkeyClient

@testable import PaymentStore

@Suite("Lifecycle library version")
struct LifecycleVersionTests {
    @Test("the version is derived from the text and names the library and every function")
    func derived() {
        #expect(PaymentLifecycle.version.count == 8)
        // The registry finds this build's library, and its elders, by this name.
        #expect(PaymentLifecycle.library.hasPrefix("#!lua name=\(LibraryRegistry.family)\(PaymentLifecycle.version)\n"))
        #expect(!PaymentLifecycle.library.contains("@V"))
        #expect(PaymentLifecycle.library.contains("name .. '_\(PaymentLifecycle.version)'"))
        #expect(PaymentLifecycle.function("accept") == "accept_\(PaymentLifecycle.version)")
    }

    @Test("a Valkey that holds an older build's library gets this one beside it, and this one runs")
    func olderLibraryLoaded() async throws {
        try await withStore { (store) async throws in
            // An older build's library: same base names, other code (it would refuse every payment).
            let old = """
                #!lua name=rinha_payments_v3
                redis.register_function('accept', function(keys, args) return -1 end)
                redis.register_function('accept_00000000', function(keys, args) return -1 end)
                """
            #expect(try await store.client.call("FUNCTION", "LOAD", old) == .string("rinha_payments_v3"))
            // Loaded a moment ago, as by a build still running beside this one: the sweep keeps it.
            _ = try await store.client.call("HSET", LibraryRegistry.key, "v3", String(WallClock.nowMillis()))
            #expect(try await store.accept(newID(), 1990) == .queued)
            let libraries = try await store.client.call("FUNCTION", "LIST")
            #expect("\(libraries)".contains("rinha_payments_\(PaymentLifecycle.version)"))
            #expect("\(libraries)".contains("rinha_payments_v3"))
        }
    }
}
