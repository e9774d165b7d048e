import Testing

/// Waits (bounded) until `condition` holds, polling every 5 ms; records an issue if it never
/// does. Live tests only: pure tests have nothing to wait for.
public func eventually(
    within: Duration = .seconds(3), _ condition: () async throws -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("condition not met within \(within)", sourceLocation: sourceLocation)
}

/// The error `body` threw, if any.
public func failure<T>(_ body: () async throws -> T) async -> (any Error)? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

/// Runs `body`, then `cleanup` whether `body` threw or not, then rethrows what `body` threw:
/// a live test always stops the servers it started.
public func withCleanup<T>(_ body: () async throws -> T, cleanup: () async -> Void) async throws -> T {
    let result: Result<T, any Error>
    do {
        result = .success(try await body())
    } catch {
        result = .failure(error)
    }
    await cleanup()
    return try result.get()
}
