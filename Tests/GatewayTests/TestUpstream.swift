import NIOConcurrencyHelpers
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A `TestHTTPServer` on a temporary Unix socket, standing in for an API instance, scripted by
/// path: `/close` drops the connection unanswered, `/delay/<ms>` answers late, `/big/<n>`
/// answers n bytes, `/chunked` answers with a chunked body, `/status/<code>`, `/payments` is 202,
/// anything else echoes the body. While `stalled`, requests get no answer at all. Every answer
/// carries `x-upstream: <name>`, the Connection header it received as `x-seen-connection` and
/// the request's HTTP version as `x-seen-version`.
struct TestUpstream: Sendable {
    let name: String
    let server: TestHTTPServer
    private let behaviour: NIOLockedValueBox<Behaviour>

    struct Behaviour {
        var stalled = false
        var delayMilliseconds = 0
        var paths: [String] = []
    }

    var path: String { server.path! }

    static func temporaryPath(_ name: String) -> String {
        "/tmp/gw-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    static func start(name: String, path: String? = nil) async throws -> TestUpstream {
        let behaviour = NIOLockedValueBox(Behaviour())
        // Only counts and paths are kept: the keep-alive test measures this process's memory.
        let server = try await TestHTTPServer.start(.unix(path: path ?? temporaryPath(name)), recordsRequests: false) {
            request in
            let (stalled, delay) = behaviour.withLockedValue {
                $0.paths.append(request.uri)
                return ($0.stalled, $0.delayMilliseconds)
            }
            if stalled { return .hang }
            if request.uri == "/close" { return .close }
            let reply = answer(to: request, upstream: name)
            let wait = request.uri.hasPrefix("/delay/") ? Int(request.uri.dropFirst(7)) ?? 0 : delay
            return wait > 0 ? .after(milliseconds: wait, reply) : reply
        }
        return TestUpstream(name: name, server: server, behaviour: behaviour)
    }

    private static func answer(to request: TestHTTPServer.Request, upstream name: String) -> TestHTTPServer.Answer {
        let headers = [
            ("x-upstream", name),
            ("x-seen-connection", request.headers("connection").joined(separator: ",")),
            ("x-seen-version", request.version),
        ]
        let uri = request.uri
        if uri.hasPrefix("/big/"), let size = Int(uri.dropFirst(5)) {
            return .status(200, headers: headers, body: .init([UInt8](repeating: UInt8(ascii: "x"), count: size)))
        } else if uri.hasPrefix("/status/"), let code = Int(uri.dropFirst(8)) {
            return .status(code, headers: headers)
        } else if uri == "/chunked" {
            return .status(200, headers: headers, chunks: ["hello ", "chunked ", "world"])
        }
        return .status(uri == "/payments" ? 202 : 200, headers: headers, body: .init(request.body))
    }

    func requests() async throws -> Int { server.requestCount }
    func connections() async throws -> Int { server.connections }
    func paths() async throws -> [String] { behaviour.withLockedValue { $0.paths } }
    func setStalled(_ stalled: Bool) async throws { behaviour.withLockedValue { $0.stalled = stalled } }
    func setDelay(milliseconds: Int) async throws { behaviour.withLockedValue { $0.delayMilliseconds = milliseconds } }

    /// Stops listening, drops every connection and removes the socket file, like a killed process.
    /// Idempotent: a test may stop an upstream that the harness stops again at the end.
    func stop() async { await server.stop() }
}
