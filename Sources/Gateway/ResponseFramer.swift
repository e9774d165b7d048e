import HTTPWire
import TextFormats

/// Delimits one response in the bytes an upstream sent, incrementally, like `RequestFramer`.
/// Interim (1xx) responses are reported so the caller drops them. The whole response is limited
/// to `maxResponseBytes`: the gateway buffers responses, and an upstream is not trusted to bound
/// them.
struct ResponseFramer {
    enum Outcome: Equatable {
        case incomplete
        /// A 1xx response of `length` bytes: drop it and parse again.
        case interim(length: Int)
        case complete(ResponseHead, length: Int)
        case failed
    }

    private enum Phase: Equatable {
        case head(scanned: Int)
        case body(ResponseHead)
        case chunked(ResponseHead, ChunkedBodyScanner, scanned: Int)
    }

    static let maxHeaderBytes = 64 * 1024
    let maxResponseBytes: Int
    private var phase = Phase.head(scanned: 0)

    init(maxResponseBytes: Int) { self.maxResponseBytes = maxResponseBytes }

    mutating func reset() { phase = .head(scanned: 0) }

    mutating func parse(_ p: UnsafeRawBufferPointer, requestWasHead: Bool) -> Outcome {
        if p.count > maxResponseBytes { return .failed }
        switch phase {
        case .head(var scanned):
            let headEnd: Int?
            do {
                headEnd = try HTTPSyntax.findHeadEnd(p, start: 0, scanned: &scanned)
            } catch {
                return .failed
            }
            guard let headEnd else {
                if p.count > Self.maxHeaderBytes { return .failed }
                phase = .head(scanned: scanned)
                return .incomplete
            }
            guard headEnd <= Self.maxHeaderBytes,
                let head = try? ResponseHead.parse(p, headEnd: headEnd, requestWasHead: requestWasHead)
            else { return .failed }
            if head.status < 200 {
                // 101 would switch protocols; the gateway strips Upgrade, so it is an error here.
                if head.status == 101 { return .failed }
                phase = .head(scanned: 0)
                return .interim(length: headEnd)
            }
            switch head.framing {
            case .none: return .complete(head, length: headEnd)
            case .length, .untilClose: phase = .body(head)
            case .chunked: phase = .chunked(head, ChunkedBodyScanner(), scanned: headEnd)
            }
            return parse(p, requestWasHead: requestWasHead)

        case .body(let head):
            if case .length(let length) = head.framing, p.count >= head.headEnd + length {
                return .complete(head, length: head.headEnd + length)
            }
            return .incomplete

        case .chunked(let head, var scanner, let scanned):
            do {
                if let end = try scanner.scan(p, from: scanned) { return .complete(head, length: end) }
            } catch {
                return .failed
            }
            phase = .chunked(head, scanner, scanned: p.count)
            return .incomplete
        }
    }

    /// The upstream closed after sending `p`: complete if the response runs until the close.
    func finish(_ p: UnsafeRawBufferPointer) -> Outcome {
        if case .body(let head) = phase, head.framing == .untilClose {
            return .complete(head, length: p.count)
        }
        return .failed
    }
}
