import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A small HTTP/1.1 server on a temporary Unix socket, standing in for an API instance.
/// Paths: `/close` drops the connection unanswered, `/delay/<ms>` answers late, `/big/<n>`
/// answers n bytes, `/chunked` answers with a chunked body, `/status/<code>`, anything else
/// echoes the body. While `stalled`, requests get no answer at all. Every answer carries
/// `x-upstream: <name>` and the Connection header it received as `x-seen-connection`.
final class TestUpstream: Sendable {
    let name: String
    let path: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let state: NIOLoopBound<State>

    final class State {
        var requests = 0
        var connections = 0
        var stalled = false
        var delayMilliseconds = 0
        var children: [any Channel] = []
        var paths: [String] = []
    }

    static func temporaryPath(_ name: String) -> String {
        "/tmp/gw-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    static func start(name: String, path: String? = nil) async throws -> TestUpstream {
        let path = path ?? temporaryPath(name)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let state = try await loop.submit { NIOLoopBound(State(), eventLoop: loop) }.get()
        unlink(path)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    state.value.connections += 1
                    state.value.children.append(channel)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(name: name, state: state.value))
                }
            }
            .bind(unixDomainSocketPath: path).get()
        return TestUpstream(name: name, path: path, group: group, channel: channel, state: state)
    }

    private init(
        name: String, path: String, group: MultiThreadedEventLoopGroup, channel: any Channel,
        state: NIOLoopBound<State>
    ) {
        self.name = name
        self.path = path
        self.group = group
        self.channel = channel
        self.state = state
    }

    func requests() async throws -> Int { try await onLoop { $0.requests } }
    func connections() async throws -> Int { try await onLoop { $0.connections } }
    func paths() async throws -> [String] { try await onLoop { $0.paths } }
    func setStalled(_ stalled: Bool) async throws { try await onLoop { $0.stalled = stalled } }
    func setDelay(milliseconds: Int) async throws {
        try await onLoop { $0.delayMilliseconds = milliseconds }
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (State) -> T) async throws -> T {
        let state = self.state
        return try await state.eventLoop.submit { body(state.value) }.get()
    }

    /// Stops listening, drops every connection and removes the socket file, like a killed process.
    /// Idempotent: a test may stop an upstream that the harness stops again at the end.
    func stop() async {
        // Work submitted to a loop that has shut down is dropped, so its future never completes.
        guard channel.isActive else { return }
        let state = self.state
        try? await channel.close()
        try? await state.eventLoop.submit {
            for child in state.value.children { child.close(promise: nil) }
        }.get()
        unlink(path)
        try? await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let name: String
        let state: State
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(name: String, state: State) {
            self.name = name
            self.state = state
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                guard let head else { return }
                state.requests += 1
                state.paths.append(head.uri)
                if state.stalled { return }
                if head.uri == "/close" {
                    context.close(promise: nil)
                    return
                }
                var delay = state.delayMilliseconds
                if head.uri.hasPrefix("/delay/") { delay = Int(head.uri.dropFirst(7)) ?? 0 }
                if delay > 0 {
                    let body = self.body
                    context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) {
                        self.respond(context: context, head: head, body: body)
                    }
                } else {
                    respond(context: context, head: head, body: body)
                }
            }
        }

        private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
            var headers = HTTPHeaders()
            headers.add(name: "x-upstream", value: name)
            headers.add(
                name: "x-seen-connection", value: head.headers["connection"].joined(separator: ","))
            headers.add(name: "x-seen-version", value: "\(head.version.major).\(head.version.minor)")
            var status = HTTPResponseStatus.ok
            var out = body
            var chunked = false
            if head.uri.hasPrefix("/big/"), let size = Int(head.uri.dropFirst(5)) {
                out = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
            } else if head.uri.hasPrefix("/status/"), let code = Int(head.uri.dropFirst(8)) {
                status = HTTPResponseStatus(statusCode: code)
                out = ByteBuffer()
            } else if head.uri == "/chunked" {
                chunked = true
            } else if head.uri == "/payments" {
                status = .accepted
            }
            if !chunked { headers.add(name: "content-length", value: "\(out.readableBytes)") }
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            if chunked {
                for piece in ["hello ", "chunked ", "world"] {
                    context.write(
                        wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: piece)))), promise: nil)
                }
            } else if out.readableBytes > 0 {
                context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
