import PaymentCore
import TestSupport
import Testing
import ValkeyClient

@testable import PaymentStore

@Suite("Library registry: old builds' libraries are retired")
struct LibraryRegistryTests {
    let ours = "rinha_payments_\(PaymentLifecycle.version)"
    let now: Int64 = 1_800_000_000_000

    @Test("stale: never this build's nor another family's; unnoted or loaded over an hour ago")
    func staleChoice() {
        let hour = LibraryRegistry.staleAfterMillis
        let stale = LibraryRegistry.stale(
            libraries: [ours, "other_lib", "rinha_payments_old", "rinha_payments_fresh", "rinha_payments_unnoted"],
            loads: [PaymentLifecycle.version: now - 10 * hour, "old": now - hour - 1, "fresh": now - hour],
            now: now)
        #expect(stale == ["rinha_payments_old", "rinha_payments_unnoted"])
    }

    @Test("library names are read from FUNCTION LIST's reply, whatever the order of its fields")
    func names() {
        let reply = RESPValue.array([
            .array([.string("library_name"), .string("a"), .string("engine"), .string("LUA")]),
            .array([
                .string("engine"), .string("LUA"), .string("library_name"), .string("b"), .string("functions"),
                .array([]),
            ]),
            .string("not a library"),
        ])
        #expect(LibraryRegistry.libraryNames(reply) == ["a", "b"])
        #expect(LibraryRegistry.libraryNames(.error("ERR")) == [])
    }

    static func library(_ name: String) -> String {
        "#!lua name=\(name)\nredis.register_function('f_\(name)', function(keys, args) return 1 end)"
    }

    func functionLibraries(_ client: ValkeyClient) async throws -> Set<String> {
        Set(LibraryRegistry.libraryNames(try await client.call("FUNCTION", "LIST")))
    }

    @Test("loading this build's library deletes the family's libraries not loaded for an hour, and only those")
    func loadSweeps() async throws {
        try await withStore { (store) async throws in
            let client = store.client
            let wallNow = WallClock.nowMillis()
            for name in ["rinha_payments_old", "rinha_payments_fresh", "rinha_payments_unnoted", "other_lib"] {
                _ = try await client.call("FUNCTION", "LOAD", Self.library(name))
            }
            _ = try await client.call(
                "HSET", LibraryRegistry.key, "old", String(wallNow - LibraryRegistry.staleAfterMillis - 60_000),
                "fresh", String(wallNow - 60_000), "gone", "1")
            // The first call finds no library of this build: it loads it, which sweeps.
            #expect(try await store.accept(newID(), 1990) == .queued)
            var libraries = try await functionLibraries(client)
            for _ in 0..<100
            where libraries.contains("rinha_payments_old") || libraries.contains("rinha_payments_unnoted") {
                try await Task.sleep(for: .milliseconds(50))
                libraries = try await functionLibraries(client)
            }
            #expect(libraries == [ours, "rinha_payments_fresh", "other_lib"])
            let loads = LibraryRegistry.loadTimes(try await client.call("HGETALL", LibraryRegistry.key))
            #expect(Set(loads.keys) == [PaymentLifecycle.version, "fresh"])
            #expect(abs((loads[PaymentLifecycle.version] ?? 0) - WallClock.nowMillis()) < 60_000)
        }
    }

    @Test("a build whose library was swept loads it again on its next call, which runs once")
    func sweptLibraryComesBack() async throws {
        try await withStore { (store) async throws in
            let id = newID()
            #expect(try await store.accept(id, 1990) == .queued)
            _ = try await store.client.call("FUNCTION", "DELETE", ours)
            #expect(try await store.accept(newID(), 2000) == .queued)
            #expect(try await store.accept(id, 1990) == .repeated)
            #expect(try await functionLibraries(store.client).contains(ours))
            #expect(try await store.queueLength() == 2)
        }
    }
}
