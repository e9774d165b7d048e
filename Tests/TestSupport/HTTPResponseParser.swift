/// One HTTP/1.1 response as a test client read it: the head as text, the body de-chunked.
public struct RawHTTPResponse: Sendable {
    public var status: Int
    /// The status line and header lines, without the blank line that ends them.
    public var head: String
    public var body: [UInt8]

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The first value of header `name` (case-insensitive), without leading spaces.
    public func header(_ name: String) -> String? {
        headerValues(of: head, name).first
    }
}

/// Every value of header `name` (case-insensitive) among the lines of `head` after its first.
func headerValues(of head: String, _ name: String) -> [String] {
    let wanted = name.lowercased()
    var values: [String] = []
    for line in head.split(separator: "\r\n", omittingEmptySubsequences: false).dropFirst() {
        guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == wanted else { continue }
        values.append(String(line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })))
    }
    return values
}

/// How far the bytes at the front of a buffer go towards one HTTP message.
enum Framing: Equatable {
    /// More bytes are needed.
    case incomplete
    /// The message is not valid HTTP/1.1.
    case invalid
    /// A whole message: its head ends at `headEnd` (after the blank line), the whole at `end`;
    /// `body` is the payload (de-chunked).
    case complete(headEnd: Int, end: Int, body: [UInt8])
}

/// Frames the message at the front of `bytes` (head and body), HTTP/1.1 rules: chunked when the
/// last transfer coding is chunked, else Content-Length (differing repeats are invalid), else no
/// body (`closeDelimited` false) or all bytes up to the end once the peer closed (`atEnd`).
/// `bodyless` is for HEAD answers and 1xx/204/304, which never carry a body.
func frameMessage(_ bytes: ArraySlice<UInt8>, bodyless: (String) -> Bool, closeDelimited: Bool, atEnd: Bool)
    -> Framing
{
    let start = bytes.startIndex
    guard let blank = bytes.firstRange(of: [13, 10, 13, 10]) else { return .incomplete }
    let head = String(decoding: bytes[start..<blank.lowerBound], as: UTF8.self)
    let headEnd = blank.upperBound
    if bodyless(head) { return .complete(headEnd: headEnd - start, end: headEnd - start, body: []) }
    let codings = headerValues(of: head, "transfer-encoding").joined(separator: ",")
        .split(separator: ",").map { $0.trimmingSpaces.lowercased() }
    if let last = codings.last {
        if last == "chunked" { return frameChunks(bytes, from: headEnd, headEnd: headEnd - start) }
        guard closeDelimited else { return .invalid }
    } else if let length = contentLength(head) {
        guard let length else { return .invalid }
        guard bytes.endIndex - headEnd >= length else { return .incomplete }
        let end = headEnd + length
        return .complete(headEnd: headEnd - start, end: end - start, body: Array(bytes[headEnd..<end]))
    } else if !closeDelimited {
        return .complete(headEnd: headEnd - start, end: headEnd - start, body: [])
    }
    guard atEnd else { return .incomplete }
    return .complete(headEnd: headEnd - start, end: bytes.endIndex - start, body: Array(bytes[headEnd...]))
}

/// The Content-Length of `head`: nil if it has none, `.some(nil)` if it is not one number.
private func contentLength(_ head: String) -> Int?? {
    let lengths = Set(headerValues(of: head, "content-length").map { $0.trimmingSpaces })
    guard let text = lengths.first else { return nil }
    guard lengths.count == 1, let length = Int(text), length >= 0 else { return .some(nil) }
    return length
}
/// The chunked body that starts at `from`: size lines (extensions ignored), data, trailers.
private func frameChunks(_ bytes: ArraySlice<UInt8>, from: Int, headEnd: Int) -> Framing {
    var body: [UInt8] = []
    var at = from
    while true {
        guard let lineEnd = bytes[at...].firstRange(of: [13, 10]) else { return .incomplete }
        let line = String(decoding: bytes[at..<lineEnd.lowerBound], as: UTF8.self)
        let sizeText = line.split(separator: ";", omittingEmptySubsequences: false)[0].trimmingSpaces
        guard !sizeText.isEmpty, let size = Int(sizeText, radix: 16), size >= 0 else { return .invalid }
        at = lineEnd.upperBound
        if size == 0 {
            // Trailers, up to an empty line.
            while true {
                guard let end = bytes[at...].firstRange(of: [13, 10]) else { return .incomplete }
                let empty = end.lowerBound == at
                at = end.upperBound
                if empty { return .complete(headEnd: headEnd, end: at - bytes.startIndex, body: body) }
            }
        }
        guard bytes.endIndex - at >= size + 2 else { return .incomplete }
        body += bytes[at..<at + size]
        guard bytes[at + size] == 13, bytes[at + size + 1] == 10 else { return .invalid }
        at += size + 2
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

/// A head's first line and the header lines after it. (Not by `Character`: "\r\n" is one.)
func splitFirstLine(_ head: String) -> (first: Substring, rest: Substring) {
    guard let end = head.firstRange(of: "\r\n") else { return (head[...], "") }
    return (head[..<end.lowerBound], head[end.upperBound...])
}

/// The status code of a response head's first line (`HTTP/1.x NNN reason`), if it has one.
func statusCode(of head: String) -> Int? {
    let parts = splitFirstLine(head).first.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3 else { return nil }
    return Int(parts[1])
}

/// Parses the response at the front of `bytes`: `.complete` with its length, nil while more
/// bytes are needed; throws on bytes that are not a response. Skips nothing: a 1xx interim answer
/// is returned like any other (the caller drops it).
func parseResponse(_ bytes: ArraySlice<UInt8>, requestWasHead: Bool, atEnd: Bool) throws(RawHTTPClient.Failure)
    -> (RawHTTPResponse, length: Int)?
{
    let framing = frameMessage(
        bytes,
        bodyless: { head in
            guard let code = statusCode(of: head) else { return false }
            return requestWasHead || (100..<200).contains(code) || code == 204 || code == 304
        }, closeDelimited: true, atEnd: atEnd)
    switch framing {
    case .incomplete: return nil
    case .invalid: throw .badResponse
    case .complete(let headEnd, let end, let body):
        let headBytes = bytes[bytes.startIndex..<bytes.startIndex + headEnd]
        let head = String(decoding: headBytes.dropLast(4), as: UTF8.self)
        guard let status = statusCode(of: head) else { throw .badResponse }
        return (RawHTTPResponse(status: status, head: head, body: body), end)
    }
}

/// True once `text` holds `count` whole HTTP/1.1 responses (to requests other than HEAD).
public func holdsResponses(_ text: String, count: Int) -> Bool {
    var rest = Array(text.utf8)[...]
    for _ in 0..<count {
        guard let parsed = try? parseResponse(rest, requestWasHead: false, atEnd: false) else { return false }
        rest = rest.dropFirst(parsed.length)
    }
    return true
}
