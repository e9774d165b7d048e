import TextFormats

extension UpstreamTable {
    /// The counters as one JSON object, for people and scripts.
    public func snapshotJSON(now: UInt64) -> String {
        var text = "{\"upstreams\":["
        for (index, upstream) in upstreams.enumerated() {
            if index > 0 { text += "," }
            text += "{\"path\":\(JSONText.quoted(upstream.path))"
            text += ",\"requests\":\(upstream.requests.load(ordering: .relaxed))"
            text += ",\"errors\":\(upstream.errors.load(ordering: .relaxed))"
            text += ",\"inFlight\":\(upstream.inFlight.load(ordering: .relaxed))"
            text += ",\"ejections\":\(upstream.ejections.load(ordering: .relaxed))"
            text += ",\"inService\":\(upstream.ejectedUntil.load(ordering: .relaxed) <= now)}"
        }
        return text + "]}"
    }
}
