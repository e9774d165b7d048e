/// A random lower-case UUID text (8-4-4-4-12 hex digits), like the ones clients send.
public func newID<G: RandomNumberGenerator>(using rng: inout G) -> String {
    let hex = Array("0123456789abcdef")
    var out = ""
    for k in 0..<32 {
        if k == 8 || k == 12 || k == 16 || k == 20 { out.append("-") }
        out.append(hex[Int.random(in: 0..<16, using: &rng)])
    }
    return out
}

/// A fresh random lower-case UUID text.
public func newID() -> String {
    var rng = SystemRandomNumberGenerator()
    return newID(using: &rng)
}
