import HTTPServerKit
import NIOCore
import NIOPosix
import NetworkEndpoint
import TestSupport
import Testing

@Suite("HTTP server over real TCP sockets")
struct HTTPServerLiveTests {
    /// A server whose answer to `/slow` comes 300 ms later; every other path is answered at once.
    static func withServer(_ body: (HTTPServer) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await HTTPServer.start(target: .tcp(host: "127.0.0.1", port: 0), group: group, maxBodySize: 64)
        {
            request, responder in
            let answer = HTTPServerResponse.json(.ok, #"{"echo":"\#(String(buffer: request.body))"}"#)
            guard request.path == "/slow" else { return responder(answer) }
            responder.respond(with: responder.eventLoop.scheduleTask(in: .milliseconds(300)) { answer }.futureResult)
        }
        try await body(server)
        await server.close()
        try await group.shutdownGracefully()
    }

    @Test("keep-alive requests, a pipelined pair, then a refused body, on one connection")
    func conversation() async throws {
        try await Self.withServer { server in
            let port = try #require(server.port)
            try await blocking {
                let client = try RawHTTPClient(port: port)
                let first = try client.request("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
                #expect(first.status == 200 && first.bodyText == #"{"echo":"hi"}"#)
                client.send(
                    "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1"
                        + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n2")
                let slow = try client.readResponse()
                let fast = try client.readResponse()
                #expect(slow.bodyText == #"{"echo":"1"}"# && fast.bodyText == #"{"echo":"2"}"#)
                let big = try client.request("POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n")
                #expect(big.status == 413)
                #expect(client.waitForClose())
            }
        }
    }

    @Test("close() lets a request in progress be answered, with Connection: close")
    func gracefulClose() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await HTTPServer.start(target: .tcp(host: "127.0.0.1", port: 0), group: group) {
            _, responder in
            responder.respond(
                with: responder.eventLoop.scheduleTask(in: .milliseconds(300)) { HTTPServerResponse(status: .accepted) }
                    .futureResult)
        }
        let port = try #require(server.port)
        let answer = Task {
            try await blocking {
                let client = try RawHTTPClient(port: port)
                return try client.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        await server.close()
        let response = try await answer.value
        #expect(response.status == 202)
        #expect(response.header("Connection") == "close")
        try await group.shutdownGracefully()
    }
}
