/// Writes random version-4 UUIDs as 36 lowercase ASCII bytes. A wyrand generator seeded once
/// from the system: the ids must be distinct, not secret, and this costs a few nanoseconds.
struct RandomUUID {
    private var state: UInt64

    init(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.state = seed
    }

    private mutating func next() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let product = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return product.high ^ product.low
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes one UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) into `out`, which holds 36 bytes.
    mutating func write(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 36)
        var hi = next()
        var lo = next()
        hi = (hi & ~0xF000) | 0x4000  // version 4 (bits 12-15 of the third group)
        lo = (lo & ~(0xC000 << 48)) | (0x8000 << 48)  // variant 10xx
        var bytes: (UInt64, UInt64) = (hi.bigEndian, lo.bigEndian)
        withUnsafeBytes(of: &bytes) { raw in
            var o = 0
            for i in 0..<16 {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[o] = UInt8(ascii: "-")
                    o += 1
                }
                let b = raw[i]
                out[o] = Self.hex[Int(b >> 4)]
                out[o + 1] = Self.hex[Int(b & 0x0F)]
                o += 2
            }
        }
    }
}
