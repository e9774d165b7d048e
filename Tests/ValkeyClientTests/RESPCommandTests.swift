import NIOCore
import Testing

@testable import ValkeyClient

@Suite("RESPCommand")
struct RESPCommandTests {
    func encoded(_ arguments: [String]) -> String {
        var buffer = ByteBuffer()
        RESPCommand(arguments).encode(into: &buffer)
        return String(buffer: buffer)
    }

    @Test("encodes an array of bulk strings")
    func plain() {
        #expect(encoded(["SET", "k", "v"]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        #expect(encoded(["PING"]) == "*1\r\n$4\r\nPING\r\n")
    }

    @Test("an empty argument is a zero-length bulk string")
    func emptyArgument() {
        #expect(encoded(["SET", "k", ""]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")
        #expect(encoded([]) == "*0\r\n")
    }

    @Test("lengths count UTF-8 bytes, not characters")
    func utf8() {
        #expect(
            encoded(["SET", "é", "€", "👍🏽"]) == "*4\r\n$3\r\nSET\r\n$2\r\né\r\n$3\r\n€\r\n$8\r\n👍🏽\r\n")
        var buffer = ByteBuffer()
        RESPCommand(["é"]).encode(into: &buffer)
        #expect(
            Array(buffer.readableBytesView) == [42, 49, 13, 10, 36, 50, 13, 10, 0xC3, 0xA9, 13, 10])
    }

    @Test("CR and LF inside an argument are data (bulk strings are binary-safe)")
    func binarySafe() {
        #expect(encoded(["SET", "a\r\nb"]) == "*2\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n")
    }

    @Test("many and long arguments have multi-digit counts")
    func counts() {
        let arguments = (0..<12).map(String.init)
        #expect(encoded(arguments).hasPrefix("*12\r\n$1\r\n0\r\n"))
        let long = String(repeating: "x", count: 1234)
        #expect(encoded([long]) == "*1\r\n$1234\r\n\(long)\r\n")
    }

    @Test("encoding appends to what the buffer already holds")
    func appends() {
        var buffer = ByteBuffer(string: "*1\r\n$4\r\nPING\r\n")
        RESPCommand(["PING"]).encode(into: &buffer)
        #expect(String(buffer: buffer) == "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n")
    }
}

@Suite("RESPValue")
struct RESPValueTests {
    @Test("accessors read the matching case; integer also reads a numeric string")
    func accessors() {
        #expect(RESPValue.string("x").string == "x")
        #expect(RESPValue.integer(3).string == nil)
        #expect(RESPValue.integer(-3).integer == -3)
        #expect(RESPValue.string("42").integer == 42)
        #expect(RESPValue.string("4x").integer == nil)
        #expect(RESPValue.null.integer == nil)
        #expect(RESPValue.array([.null]).array == [.null])
        #expect(RESPValue.error("ERR").string == nil)
    }
}
