/// How a simulated Payment Processor is set up at start. Every value can later be changed only
/// through the admin API (token, delay, failure), never through this struct.
public struct SimulatorConfiguration: Sendable {
    /// The address to bind (`0.0.0.0` for every interface).
    public var host: String
    /// The TCP port to bind; 0 picks a free one (read it back with `ProcessorSimulator.port`).
    public var port: Int
    /// The fee rate as a plain decimal (`"0.05"` is 5 %), kept exact: never a floating-point value.
    public var feeRate: String
    /// The initial `X-Rinha-Token` of the admin API.
    public var token: String
    /// The health-check rate-limit window in milliseconds (one answered call per window).
    public var healthWindowMillis: Int64
    /// `POST /payments` calls processed at once (each holds its slot during its delay).
    public var maxInFlight: Int
    /// `POST /payments` calls waiting for a slot; beyond that a 429.
    public var maxQueued: Int
    /// How JSON and text bodies are framed: chunked as Kestrel does (the default), or with a
    /// `Content-Length` for clients that cannot read chunks.
    public var framing: ResponseFraming

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        feeRate: String = "0.05",
        token: String = "123",
        healthWindowMillis: Int64 = 5000,
        maxInFlight: Int = 800,
        maxQueued: Int = 500,
        framing: ResponseFraming = .chunked
    ) {
        self.host = host
        self.port = port
        self.feeRate = feeRate
        self.token = token
        self.healthWindowMillis = healthWindowMillis
        self.maxInFlight = maxInFlight
        self.maxQueued = maxQueued
        self.framing = framing
    }
}

/// A configuration value that cannot be used; `start` throws it before binding anything.
public struct SimulatorConfigurationError: Error, CustomStringConvertible {
    public var description: String
}
