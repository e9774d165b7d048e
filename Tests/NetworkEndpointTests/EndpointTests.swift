import NetworkEndpoint
import Testing

@Suite("Endpoint")
struct EndpointTests {
    @Test(
        "every flag's spellings parse to the same address",
        arguments: [
            ("unix:/tmp/v.sock", Endpoint.unix(path: "/tmp/v.sock")),
            ("/tmp/v.sock", .unix(path: "/tmp/v.sock")),
            ("./run/api.sock", .unix(path: "./run/api.sock")),
            ("redis://valkey:6380", .tcp(host: "valkey", port: 6380)),
            ("valkey://unix:/run/v.sock", .unix(path: "/run/v.sock")),
            ("http://localhost:8001/", .tcp(host: "localhost", port: 8001)),
            ("127.0.0.1:7000", .tcp(host: "127.0.0.1", port: 7000)),
            (":9999", .tcp(host: "0.0.0.0", port: 9999)),
            ("0.0.0.0:0", .tcp(host: "0.0.0.0", port: 0)),
        ])
    func parses(text: String, endpoint: Endpoint) {
        #expect(Endpoint(parsing: text) == endpoint)
    }

    @Test("a bare host takes the default port only where there is one; the empty host the default host")
    func defaults() {
        #expect(Endpoint(parsing: "valkey", defaultPort: 6379) == .tcp(host: "valkey", port: 6379))
        #expect(Endpoint(parsing: "valkey") == nil)
        #expect(Endpoint(parsing: ":80", defaultHost: "127.0.0.1") == .tcp(host: "127.0.0.1", port: 80))
    }

    @Test(
        "what is not an address is refused",
        arguments: ["", "unix:", "redis://", "host:", "host:port", "host:65536", "host:-1", "http://"])
    func refuses(text: String) {
        #expect(Endpoint(parsing: text, defaultPort: 6379) == nil)
        #expect(Endpoint(parsing: text) == nil)
    }

    @Test("descriptions read back; a server bound everywhere is reached on loopback")
    func readsBack() {
        for endpoint in [Endpoint.tcp(host: "h", port: 1), .unix(path: "/s")] {
            #expect(Endpoint(parsing: endpoint.description) == endpoint)
        }
        #expect(Endpoint.tcp(host: "0.0.0.0", port: 9).connectable == .tcp(host: "127.0.0.1", port: 9))
        #expect(Endpoint.tcp(host: "api", port: 9).connectable == .tcp(host: "api", port: 9))
        #expect(Endpoint.unix(path: "/s").hostHeader == "localhost")
    }
}
