import TextFormats

/// Collects a processor's chunked body (the scanning is `ChunkedBodyScanner`'s). Sizes have at
/// most 8 hex digits and the body at most `ProcessorResponseFramer.maxBodyBytes`, checked before
/// a chunk's bytes are taken, so nothing can grow unbounded.
struct ChunkedBodyDecoder {
    enum Result: Equatable {
        case needMore
        /// The body ended; the index just past it.
        case end(Int)
        case malformed
    }

    private var scanner = ChunkedBodyScanner(maxSizeDigits: 8)
    private(set) var body: [UInt8] = []

    /// Decodes `p[from...]`; the next call resumes at `p.count`.
    mutating func decode(_ p: UnsafeRawBufferPointer, from: Int) -> Result {
        var body = self.body
        self.body = []  // one owner while appending: no copy-on-write
        defer { self.body = body }
        do {
            // A size line comes after the whole of the chunk before it, so `body` then holds every
            // earlier chunk, whichever call their bytes came in.
            let end = try scanner.scan(
                p, from: from,
                onData: { range in body.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[range])) },
                onSize: { size throws(ChunkedBodyScanner.Malformed) in
                    guard body.count + size <= ProcessorResponseFramer.maxBodyBytes else {
                        throw ChunkedBodyScanner.Malformed()
                    }
                })
            return end.map(Result.end) ?? .needMore
        } catch {
            return .malformed
        }
    }
}
