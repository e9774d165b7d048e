import NIOCore

/// One command as its argument list, e.g. `["LPUSH", "queue", "x"]`.
public struct RESPCommand: Sendable, Equatable {
    public var arguments: [String]

    public init(_ arguments: [String]) { self.arguments = arguments }

    /// Encodes as a RESP array of bulk strings. Written here rather than with hiredis's
    /// `redisFormatCommandArgv` because that allocates a C string per command that would then be
    /// copied into the channel's buffer; this writes straight into it.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }
}
