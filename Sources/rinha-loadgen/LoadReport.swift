import TextFormats

/// The merged result of a run: counts, the achieved rate and the latency percentiles, printed as
/// text or as one JSON object. Percentiles are nearest-rank over the recorded samples.
struct LoadReport {
    let configuration: LoadConfiguration
    let record: RunRecord
    /// Sorted latencies, ns.
    let sorted: [Int64]
    /// Sorted service times (write to answer), ns.
    let sortedService: [Int64]
    /// CPU seconds (user + system) the load generator itself used.
    let loadgenCPUSeconds: Double

    init(configuration: LoadConfiguration, record: RunRecord, loadgenCPUSeconds: Double) {
        self.configuration = configuration
        self.record = record
        self.sorted = record.samples.sorted()
        self.sortedService = record.serviceSamples.sorted()
        self.loadgenCPUSeconds = loadgenCPUSeconds
    }

    static let quantiles: [(label: String, key: String, q: Double)] = [
        ("p50", "p50", 0.50), ("p90", "p90", 0.90), ("p99", "p99", 0.99), ("p99.9", "p99_9", 0.999),
    ]

    /// Latency at quantile `q` in ms, nil without samples.
    func latencyMillis(_ q: Double) -> Double? { Self.quantile(sorted, q) }

    func serviceMillis(_ q: Double) -> Double? { Self.quantile(sortedService, q) }

    static func quantile(_ sorted: [Int64], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return Double(sorted[min(max(rank, 1), sorted.count) - 1]) / 1e6
    }

    var maxMillis: Double? { record.completed > 0 ? Double(record.maxNanos) / 1e6 : nil }

    var maxServiceMillis: Double? {
        record.completed > 0 ? Double(record.maxServiceNanos) / 1e6 : nil
    }

    var achievedRate: Double { Double(record.completedInWindow) / configuration.duration }

    var statuses: [(code: Int, count: Int)] {
        record.statusCounts.enumerated().filter { $0.element > 0 }.map { ($0.offset, $0.element) }
    }

    /// Answers outside 2xx.
    var non2xx: Int { statuses.filter { !(200...299).contains($0.code) }.reduce(0) { $0 + $1.count } }

    var text: String {
        let c = configuration
        var lines: [String] = []
        lines.append(
            "target \(c.target)  \(c.method) \(c.path)  rate \(fixed(c.rate, 1))/s  duration \(fixed(c.duration, 1)) s"
                + " (+\(fixed(c.warmup, 1)) s warmup)  connections \(c.connections)  threads \(c.threads)")
        lines.append(
            "requests   \(record.scheduled) scheduled, \(record.completed) answered, \(record.failureCount) errors"
                + "  (\(record.warmupRequests) more in warmup)   achieved \(fixed(achievedRate, 1))/s")
        let statusText = statuses.map { "\($0.code): \($0.count)" }.joined(separator: ", ")
        lines.append("status     \(statusText.isEmpty ? "-" : statusText)")
        let failureText = RunRecord.Failure.allCases.compactMap { f in
            record.failures[f].map { "\(f.rawValue): \($0)" }
        }.joined(separator: ", ")
        lines.append("errors     \(failureText.isEmpty ? "none" : failureText)")
        var latency = Self.quantiles.map { "\($0.label) \(ms(latencyMillis($0.q)))" }
        latency.append("max \(ms(maxMillis))")
        lines.append("latency ms " + latency.joined(separator: "  "))
        var service = Self.quantiles.map { "\($0.label) \(ms(serviceMillis($0.q)))" }
        service.append("max \(ms(maxServiceMillis))")
        lines.append("service ms " + service.joined(separator: "  ") + "   (write to answer)")
        let worst = record.maxBySecond.enumerated().sorted { $0.element > $1.element }.prefix(3)
        lines.append(
            "worst s    "
                + worst.map { "second \($0.offset): \(ms(Double($0.element) / 1e6))" }.joined(
                    separator: ", "))
        lines.append(
            "loadgen    \(record.connectionsOpened) connects, \(fixed(loadgenCPUSeconds, 2)) CPU s,"
                + " \(sorted.count) samples")
        return lines.joined(separator: "\n")
    }

    var json: String {
        let c = configuration
        var fields: [String] = []
        fields.append("\"target\":\(JSONText.quoted(c.target.description))")
        fields.append("\"method\":\(JSONText.quoted(c.method)),\"path\":\(JSONText.quoted(c.path))")
        fields.append(
            "\"rate\":\(fixed(c.rate, 3)),\"duration\":\(fixed(c.duration, 3)),\"warmup\":\(fixed(c.warmup, 3))"
        )
        fields.append("\"connections\":\(c.connections),\"threads\":\(c.threads)")
        fields.append("\"scheduled\":\(record.scheduled),\"answered\":\(record.completed)")
        fields.append("\"warmupRequests\":\(record.warmupRequests)")
        fields.append("\"errors\":\(record.failureCount),\"non2xx\":\(non2xx)")
        let failures = RunRecord.Failure.allCases.map {
            "\"\($0.rawValue)\":\(record.failures[$0] ?? 0)"
        }
        fields.append("\"errorKinds\":{\(failures.joined(separator: ","))}")
        fields.append(
            "\"status\":{\(statuses.map { "\"\($0.code)\":\($0.count)" }.joined(separator: ","))}")
        fields.append("\"achievedRate\":\(fixed(achievedRate, 3))")
        var latency = Self.quantiles.map { "\"\($0.key)\":\(jsonNumber(latencyMillis($0.q)))" }
        latency.append("\"max\":\(jsonNumber(maxMillis))")
        fields.append("\"latencyMs\":{\(latency.joined(separator: ","))}")
        var service = Self.quantiles.map { "\"\($0.key)\":\(jsonNumber(serviceMillis($0.q)))" }
        service.append("\"max\":\(jsonNumber(maxServiceMillis))")
        fields.append("\"serviceMs\":{\(service.joined(separator: ","))}")
        let bySecond = record.maxBySecond.map { fixed(Double($0) / 1e6, 3) }
        fields.append("\"maxBySecondMs\":[\(bySecond.joined(separator: ","))]")
        fields.append("\"samples\":\(sorted.count),\"connectionsOpened\":\(record.connectionsOpened)")
        fields.append("\"loadgenCpuSeconds\":\(fixed(loadgenCPUSeconds, 3))")
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func ms(_ value: Double?) -> String { value.map { fixed($0, 3) } ?? "-" }

    private func jsonNumber(_ value: Double?) -> String { value.map { fixed($0, 4) } ?? "null" }
}

/// `value` with exactly `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale: Int64 = 1
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int64((abs(value) * Double(scale)).rounded())
    let sign = value < 0 && scaled != 0 ? "-" : ""
    let whole = scaled / scale
    guard digits > 0 else { return "\(sign)\(whole)" }
    var fraction = String(scaled % scale)
    while fraction.count < digits { fraction = "0" + fraction }
    return "\(sign)\(whole).\(fraction)"
}
