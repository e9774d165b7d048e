import NIOCore
import PaymentCore
import PaymentStore

/// Where a processor listens, from its base URL (`http://host[:port][/prefix]`), and the bytes
/// of the two requests the worker sends it. Every request is one buffer: the fixed head is
/// built once, so a payment costs its JSON body and one write.
struct ProcessorEndpoint: Sendable, Equatable {
    let host: String
    let port: Int
    /// The fixed start of every payment request, up to the Content-Length value.
    private let paymentHead: [UInt8]
    private let healthRequest: [UInt8]

    init?(url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        if authority.hasPrefix("[") {
            // An IPv6 literal: [::1]:8080
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty {
                port = 80
            } else {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            host = String(authority[..<colon])
            port = p
        } else {
            host = String(authority)
            port = 80
        }
        guard !host.isEmpty else { return nil }
        paymentHead = Array(
            "POST \(path)/payments HTTP/1.1\r\nHost: \(authority)\r\nContent-Type: application/json\r\nContent-Length: "
                .utf8)
        healthRequest = Array("GET \(path)/payments/service-health HTTP/1.1\r\nHost: \(authority)\r\n\r\n".utf8)
    }

    /// `POST /payments` with the payment and the attempt's requestedAt (epoch ms).
    func paymentRequest(_ payment: QueuedPayment, requestedAt: Int64, allocator: ByteBufferAllocator) -> ByteBuffer {
        let amount = payment.amount.description
        let timestamp = Timestamp.format(millis: requestedAt)
        let open: StaticString = "{\"correlationId\":\""
        let afterID: StaticString = "\",\"amount\":"
        let afterAmount: StaticString = ",\"requestedAt\":\""
        let close: StaticString = "\"}"
        let bodyLength =
            open.utf8CodeUnitCount + payment.correlationID.utf8.count + afterID.utf8CodeUnitCount + amount.utf8.count
            + afterAmount.utf8CodeUnitCount + timestamp.utf8.count + close.utf8CodeUnitCount
        var buffer = allocator.buffer(capacity: paymentHead.count + 8 + bodyLength)
        buffer.writeBytes(paymentHead)
        buffer.writeString(String(bodyLength))
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeStaticString(open)
        buffer.writeString(payment.correlationID)
        buffer.writeStaticString(afterID)
        buffer.writeString(amount)
        buffer.writeStaticString(afterAmount)
        buffer.writeString(timestamp)
        buffer.writeStaticString(close)
        return buffer
    }

    /// `GET /payments/service-health`.
    func healthRequest(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: healthRequest.count)
        buffer.writeBytes(healthRequest)
        return buffer
    }
}
