extension UpstreamTable {
    /// The counters as one JSON object, for people and scripts.
    public func snapshotJSON(now: UInt64) -> String {
        var text = "{\"upstreams\":["
        for (index, upstream) in upstreams.enumerated() {
            if index > 0 { text += "," }
            text += "{\"path\":\"\(upstream.path.jsonEscaped)\""
            text += ",\"requests\":\(upstream.requests.load(ordering: .relaxed))"
            text += ",\"errors\":\(upstream.errors.load(ordering: .relaxed))"
            text += ",\"inFlight\":\(upstream.inFlight.load(ordering: .relaxed))"
            text += ",\"ejections\":\(upstream.ejections.load(ordering: .relaxed))"
            text += ",\"inService\":\(upstream.ejectedUntil.load(ordering: .relaxed) <= now)}"
        }
        return text + "]}"
    }
}

extension String {
    fileprivate var jsonEscaped: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
