import NIOConcurrencyHelpers
import NIOCore
import PaymentCore
import ValkeyClient

/// Loads the lifecycle library once however many calls found it missing at the same time (a
/// burst pipelined to a new server would otherwise send the library's text once per call), then
/// has `LibraryRegistry` note it and retire the libraries of builds gone for good.
final class LibraryLoader: Sendable {
    private let inFlight = NIOLockedValueBox<EventLoopFuture<RESPValue>?>(nil)

    func load(on client: ValkeyClient) -> EventLoopFuture<RESPValue> {
        inFlight.withLockedValue { current in
            if let current { return current }
            let future = client.send(RESPCommand(["FUNCTION", "LOAD", "REPLACE", PaymentLifecycle.library]))
            current = future
            future.whenComplete { result in
                self.inFlight.withLockedValue { $0 = nil }
                if case .success(.string) = result {
                    // Off the caller's path: the call that found the library missing goes out again at once.
                    _ = LibraryRegistry.sweep(on: client, now: WallClock.nowMillis())
                }
            }
            return future
        }
    }
}

/// Every build loads its own library (`rinha_payments_<version>`) and a server keeps them all:
/// without a sweep, each deployment would leave one more behind for good. A library is loaded
/// only when a call finds it missing, so the registry (a hash: version -> epoch ms of its last
/// load) says which were loaded lately; at each load, the libraries of this family not loaded
/// for `staleAfterMillis` are deleted. A process of such a build that still runs loses nothing:
/// its next call gets "Function not found", loads its library again (noting it) and is sent
/// again, as on a new server. Its key is the family's, not a stack's: libraries are per server,
/// whatever prefixes the stacks on it use.
enum LibraryRegistry {
    static let key = "{rinha_payments}:libraries"
    static let family = "rinha_payments_"
    /// Long enough that two builds running side by side (a rolling deployment) never take each
    /// other's library away while both load it; a library still in use costs one reload an hour.
    static let staleAfterMillis: Int64 = 3_600_000

    /// Notes this build's library as loaded at `now` and deletes the stale ones of the family.
    /// -> the names deleted (best effort: a failed step leaves the rest for the next load).
    static func sweep(on client: ValkeyClient, now: Int64) -> EventLoopFuture<[String]> {
        let noted = client.send("HSET", key, PaymentLifecycle.version, String(now))
        let listed = client.send("FUNCTION", "LIST", "LIBRARYNAME", family + "*")
        let loads = client.send("HGETALL", key)
        return noted.and(listed).and(loads).flatMap { noteAndList, loads in
            // Without a list to go by (an error reply), nothing is deleted.
            guard case .array = noteAndList.1 else { return client.eventLoop.makeSucceededFuture([]) }
            let names = libraryNames(noteAndList.1)
            let loadedAt = loadTimes(loads)
            let deleting = stale(libraries: names, loads: loadedAt, now: now)
            var steps: [EventLoopFuture<RESPValue>] = []
            for name in deleting {
                steps.append(client.send("FUNCTION", "DELETE", name))
                steps.append(client.send("HDEL", key, String(name.dropFirst(family.count))))
            }
            // Notes of libraries that are gone (deleted by hand, or a server emptied) go too.
            let present = Set(names.map { String($0.dropFirst(family.count)) })
            for version in loadedAt.keys where !present.contains(version) && version != PaymentLifecycle.version {
                steps.append(client.send("HDEL", key, version))
            }
            return EventLoopFuture.whenAllComplete(steps, on: client.eventLoop).map { _ in deleting }
        }
    }

    /// The libraries of the family to delete: not this build's, and not loaded within
    /// `staleAfterMillis` of `now` (or never noted: loaded by a build older than the registry).
    static func stale(libraries: [String], loads: [String: Int64], now: Int64) -> [String] {
        libraries.filter { name in
            guard name.hasPrefix(family) else { return false }
            let version = String(name.dropFirst(family.count))
            guard version != PaymentLifecycle.version else { return false }
            guard let loaded = loads[version] else { return true }
            return now - loaded > staleAfterMillis
        }
    }

    /// Library names out of a `FUNCTION LIST` reply: one array per library of alternating
    /// field names and values.
    static func libraryNames(_ reply: RESPValue) -> [String] {
        (reply.array ?? []).compactMap { library in
            guard let fields = library.array else { return nil }
            var i = 0
            while i + 1 < fields.count {
                if fields[i].string == "library_name" { return fields[i + 1].string }
                i += 2
            }
            return nil
        }
    }

    static func loadTimes(_ reply: RESPValue) -> [String: Int64] {
        guard let flat = reply.array else { return [:] }
        var times: [String: Int64] = [:]
        var i = 0
        while i + 1 < flat.count {
            if let version = flat[i].string, let ms = flat[i + 1].integer { times[version] = ms }
            i += 2
        }
        return times
    }
}
