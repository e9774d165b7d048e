import NIOCore
import NIOHTTP1

/// The request every tick sends: one fixed head and a body template whose `{uuid}` slots get a
/// fresh UUID each time. A UUID is always 36 bytes, so the body length, and with it the whole
/// head, never changes: only the body is built per request.
struct RequestTemplate: Sendable {
    static let placeholder = "{uuid}"

    let head: HTTPRequestHead
    /// The body's fixed parts; a UUID goes between each two.
    let segments: [[UInt8]]
    let bodyLength: Int

    init(method: String, path: String, bodyTemplate: String, host: String) {
        segments = Self.split(Array(bodyTemplate.utf8), on: Array(Self.placeholder.utf8))
        bodyLength = segments.reduce(0) { $0 + $1.count } + 36 * (segments.count - 1)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        if bodyLength > 0 {
            headers.add(name: "Content-Type", value: "application/json")
        }
        if bodyLength > 0 || method != "GET" {
            headers.add(name: "Content-Length", value: String(bodyLength))
        }
        head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers)
    }

    /// A new body, or nil when the template is empty.
    func makeBody(allocator: ByteBufferAllocator, uuids: inout RandomUUID) -> ByteBuffer? {
        guard bodyLength > 0 else { return nil }
        var buffer = allocator.buffer(capacity: bodyLength)
        for (i, segment) in segments.enumerated() {
            if i > 0 {
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 36) { out in
                    uuids.write(into: out)
                    return 36
                }
            }
            buffer.writeBytes(segment)
        }
        return buffer
    }

    /// `bytes` cut at every occurrence of `separator` (which is dropped).
    static func split(_ bytes: [UInt8], on separator: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if i + separator.count <= bytes.count,
                bytes[i..<(i + separator.count)].elementsEqual(separator)
            {
                parts.append(current)
                current = []
                i += separator.count
            } else {
                current.append(bytes[i])
                i += 1
            }
        }
        parts.append(current)
        return parts
    }
}
