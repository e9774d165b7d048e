import API
import NIOConcurrencyHelpers
import TestSupport
import Testing
import ValkeyClient

/// What SIGTERM does to an API (the lifecycle calls `APIServer.close`): no new connection is
/// taken, the requests already taken are answered, then each connection closes.
@Suite("API: graceful stop")
struct GracefulStopTests {
    @Test("a stop waits for the request in progress, answers it, closes its connection and takes no new one")
    func answersWhatItTook() async throws {
        try await APIHarness.run { api in
            let port = api.port
            let connection = try RawHTTPClient(port: port)
            // Valkey holds every command for a while: the payment is in progress at the API.
            _ = try await api.client.call(RESPCommand(["CLIENT", "PAUSE", "700", "ALL"]))
            let id = newID()
            let body = #"{"correlationId":"\#(id)","amount":19.90}"#
            connection.send(
                "POST /payments HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            try await Task.sleep(for: .milliseconds(100))
            let stopped = NIOLockedValueBox(false)
            let stop = Task {
                await api.api.close()
                stopped.withLockedValue { $0 = true }
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(!stopped.withLockedValue { $0 }, "the stop did not wait for the request in progress")
            #expect(throws: RawHTTPClient.Failure.connect) { try RawHTTPClient(port: port) }

            let answer = try await blocking { try connection.readResponse() }
            #expect(answer.status == 202)
            #expect(try await blocking { connection.waitForClose() }, "the connection stayed open after the stop")
            await stop.value
            #expect(try await api.client.call(RESPCommand(["LLEN", api.store.keys.queue])) == .integer(1))
        }
    }
}
