import Logging
import NIOCore
import NIOPosix
import Testing
import ValkeyClient

/// A client on the server's socket. Each live test gets its own event loop (see `withValkey`) so
/// that a test flooding its loop does not delay another test's timers.
public func makeClient(
    _ server: ValkeyServer,
    on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
    configure: (inout ValkeyConfiguration) -> Void = { _ in }
) -> ValkeyClient {
    var configuration = ValkeyConfiguration(endpoint: .unix(path: server.socketPath))
    configuration.maxBackoff = .milliseconds(50)
    configure(&configuration)
    return ValkeyClient(
        configuration: configuration, eventLoop: eventLoop, logger: Logger(label: "valkey-test"))
}

/// How many `FCALL`s the server has run (`INFO commandstats`): a call that never reached it, or
/// reached it and was never run, does not count.
public func functionCalls(_ client: ValkeyClient) async throws -> Int {
    let info = try await client.call("INFO", "commandstats").string ?? ""
    guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_fcall:") }),
        let calls = line.split(separator: ",").first?.split(separator: "=").last
    else { return 0 }
    return Int(calls) ?? 0
}

/// Starts a server, an event loop and a client for one test, runs `body`, then closes all three
/// even if it threw.
public func withValkey(
    aof: Bool = false, waitForConnection: TimeAmount? = nil, maxWaiting: Int? = nil,
    _ body: (ValkeyServer, ValkeyClient) async throws -> Void
) async throws {
    let server = try await ValkeyServer.start(aof: aof)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let client = makeClient(server, on: group.next()) {
        if let waitForConnection { $0.waitForConnection = waitForConnection }
        if let maxWaiting { $0.maxWaiting = maxWaiting }
    }
    try await withCleanup {
        try await body(server, client)
    } cleanup: {
        await client.close()
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

/// One command on a second, short-lived client: looks at the server from outside.
public func probe(_ server: ValkeyServer, _ arguments: String...) async throws -> RESPValue {
    let client = makeClient(server)
    return try await withCleanup {
        try await client.call(RESPCommand(arguments))
    } cleanup: {
        await client.close()
    }
}

/// Waits until the server has a client blocked in `command` (lower-case).
public func waitForBlocked(_ server: ValkeyServer, _ command: String) async throws {
    try await eventually {
        try await probe(server, "CLIENT", "LIST").string?.contains("cmd=\(command)") == true
    }
}
