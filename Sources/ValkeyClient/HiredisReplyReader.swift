import CHiredis

/// hiredis's incremental RESP reader: bytes in, complete replies out. One owner (a channel
/// handler on one event loop); not thread-safe, like the C object it wraps.
final class HiredisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let r = redisReaderCreate() else { fatalError("hiredis: out of memory") }
        // Keep at most 64 KiB of consumed input around between feeds (hiredis's default is 16 KiB).
        r.pointee.maxbuf = 64 * 1024
        self.reader = r
    }

    deinit { redisReaderFree(reader) }

    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    enum ReadError: Error { case protocolError(String) }

    /// The next complete reply, nil when more bytes are needed.
    func next() throws -> RESPValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            let message = withUnsafeBytes(of: reader.pointee.errstr) { buf in
                String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw ReadError.protocolError(message)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS:
            return .string(text(r))
        case REDIS_REPLY_ERROR:
            return .error(text(r))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            var items: [RESPValue] = []
            items.reserveCapacity(Int(r.elements))
            for k in 0..<Int(r.elements) {
                if let element = r.element[k] { items.append(convert(element)) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard let str = r.str else { return "" }
        return str.withMemoryRebound(to: UInt8.self, capacity: Int(r.len)) {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(r.len)), as: UTF8.self)
        }
    }
}
