import TextFormats

/// Delimits one request at a time in the bytes a client sent, incrementally: the caller keeps
/// appending to its buffer and calls `parse` again; after `.complete` it consumes `length` bytes
/// and calls `reset`. Enforces the header and body size limits as the bytes arrive, so a client
/// can never make the server buffer more than `maxHeaderBytes + maxBodyBytes` for a request.
public struct RequestFramer {
    public enum Outcome: Equatable {
        case incomplete
        /// Incomplete, and the client waits for `100 Continue` before sending the body.
        case sendContinue
        /// The request is `bytes[head.start..<length]`.
        case complete(RequestHead, length: Int)
        case failed(RequestError)
    }

    private enum Phase: Equatable {
        case head(scanned: Int)
        case body(RequestHead, continueSent: Bool)
        case chunked(RequestHead, ChunkedBodyScanner, scanned: Int, continueSent: Bool)
    }

    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int
    private var phase = Phase.head(scanned: 0)

    public init(maxHeaderBytes: Int, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    public mutating func reset() { phase = .head(scanned: 0) }

    public mutating func parse(_ p: UnsafeRawBufferPointer) -> Outcome {
        switch phase {
        case .head(var scanned):
            var start = 0
            while start + 1 < p.count, p[start] == HTTPSyntax.cr, p[start + 1] == HTTPSyntax.lf {
                start += 2
            }
            let headEnd: Int?
            do {
                headEnd = try HTTPSyntax.findHeadEnd(p, start: start, scanned: &scanned)
            } catch {
                return .failed(.malformed)
            }
            guard let headEnd else {
                if p.count > maxHeaderBytes { return .failed(.headerTooLarge) }
                phase = .head(scanned: scanned)
                return .incomplete
            }
            if headEnd > maxHeaderBytes { return .failed(.headerTooLarge) }
            let head: RequestHead
            do {
                head = try RequestHead.parse(p, start: start, headEnd: headEnd)
            } catch {
                return .failed(error)
            }
            switch head.framing {
            case .none, .untilClose:
                return .complete(head, length: headEnd)
            case .length(let length):
                if length > maxBodyBytes { return .failed(.bodyTooLarge) }
                phase = .body(head, continueSent: false)
            case .chunked:
                phase = .chunked(head, ChunkedBodyScanner(), scanned: headEnd, continueSent: false)
            }
            return parse(p)

        case .body(let head, let continueSent):
            guard case .length(let length) = head.framing else { preconditionFailure() }
            if p.count >= head.headEnd + length { return .complete(head, length: head.headEnd + length) }
            if head.expectContinue && !continueSent {
                phase = .body(head, continueSent: true)
                return .sendContinue
            }
            return .incomplete

        case .chunked(let head, var scanner, let scanned, let continueSent):
            let end: Int?
            do {
                end = try scanner.scan(p, from: scanned)
            } catch {
                return .failed(.malformed)
            }
            // The limit counts the body's bytes on the wire, chunk framing included, which also
            // bounds what a client can send as extensions and trailers.
            if (end ?? p.count) - head.headEnd > maxBodyBytes { return .failed(.bodyTooLarge) }
            if let end { return .complete(head, length: end) }
            let sendContinue = head.expectContinue && !continueSent
            phase = .chunked(head, scanner, scanned: p.count, continueSent: continueSent || sendContinue)
            return sendContinue ? .sendContinue : .incomplete
        }
    }
}
