import Testing

@testable import TextFormats

@Suite("JSONScanner")
struct JSONScannerTests {
    func parse(_ text: String) -> [(String, JSONScanner.Value)]? {
        JSONScanner.parseObject(Array(text.utf8))
    }

    func keys(_ text: String) -> [String]? { parse(text)?.map(\.0) }

    func value(_ text: String) -> JSONScanner.Value? {
        guard let members = parse(text), members.count == 1 else { return nil }
        return members[0].1
    }

    @Test("an empty object has no members, with or without spaces")
    func empty() {
        #expect(parse("{}")?.isEmpty == true)
        #expect(parse(" \t\r\n{ \n }\n ")?.isEmpty == true)
    }

    @Test("members come back in order, duplicates included")
    func order() {
        #expect(keys(#"{"b":1,"a":2,"b":3}"#) == ["b", "a", "b"])
        let members = parse(#"{ "correlationId" : "x" , "amount" : 19.90 }"#)
        #expect(members?.count == 2)
        #expect(members?[0].1 == .string("x"))
        #expect(members?[1].1 == .number("19.90"))
    }

    @Test(
        "numbers keep their exact text",
        arguments: [
            "0", "-0", "19.90", "19.900", "0.01", "1e2", "1E+2", "-1.5e-3", "12345678901234567890",
            "20.05",
        ])
    func numbers(text: String) {
        #expect(value(#"{"n":\#(text)}"#) == .number(Substring(text)))
    }

    @Test("literals, null and nested values")
    func literalsAndNesting() {
        #expect(value(#"{"b":true}"#) == .bool(true))
        #expect(value(#"{"b":false}"#) == .bool(false))
        #expect(value(#"{"b":null}"#) == .null)
        #expect(value(#"{"o":{}}"#) == .other)
        #expect(value(#"{"a":[]}"#) == .other)
        #expect(value(#"{"a":[1, "x", {"c": [true, null]}, []]}"#) == .other)
        #expect(value(#"{"o":{"b":[1,{"c":[]}]}}"#) == .other)
    }

    @Test("string escapes are decoded")
    func escapes() {
        #expect(value(#"{"s":"a\"b\\c\/d\b\f\n\r\t"}"#) == .string("a\"b\\c/d\u{08}\u{0C}\n\r\t"))
        #expect(value(#"{"s":"\u00e9\u20AC\u0041"}"#) == .string("é€A"))
        #expect(value(#"{"s":"héllo ✓"}"#) == .string("héllo ✓"))
        #expect(value(#"{"s":""}"#) == .string(""))
        #expect(keys(#"{"\u0061":1}"#) == ["a"])
    }

    @Test("32 levels of nesting are fine, 33 are refused")
    func depth() {
        func nested(_ levels: Int) -> String {
            #"{"a":"# + String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
                + "}"
        }
        #expect(parse(nested(32)) != nil)
        #expect(parse(nested(33)) == nil)
        let objects =
            #"{"a":"# + String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 34)
        #expect(parse(objects) == nil)
        let objectsOK =
            #"{"a":"# + String(repeating: #"{"a":"#, count: 32) + "1" + String(repeating: "}", count: 33)
        #expect(parse(objectsOK) != nil)
    }

    @Test(
        "invalid JSON or anything but one object is refused",
        arguments: [
            "", " ", "[]", "1", "\"x\"", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":1},", "{'a':1}", "{a:1}", "{\"a\":01}", "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":+1}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":0x1}", "{\"a\":tru}",
            "{\"a\":True}",
            "{\"a\":nul}", "{\"a\":NaN}", "{\"a\":\"x}", "{\"a\":\"x", "{\"a\":\"a\tb\"}",
            "{\"a\":\"a\nb\"}",
            "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\uZZZZ\"}", "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":[}", "{\"a\":{\"b\"}}", "{\"a\":1",
            "{1:1}",
        ])
    func invalid(text: String) {
        #expect(parse(text) == nil)
    }

    @Test("a \\u escape must have exactly four hexadecimal digits (no sign)")
    func unicodeEscapeNeedsFourHexDigits() {
        #expect(parse(#"{"a":"\u+041"}"#) == nil)
        #expect(parse(#"{"a":"\u-000"}"#) == nil)
        #expect(parse(#"{"a":"\u 041"}"#) == nil)
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        var bytes = Array(#"{"a":""#.utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array(#""}"#.utf8)
        #expect(JSONScanner.parseObject(bytes) == nil)
    }

    @Test("parses from any byte collection, e.g. an array slice")
    func slice() {
        let bytes = Array(#"xx{"a":1}yy"#.utf8)
        #expect(JSONScanner.parseObject(bytes[2..<9])?.count == 1)
    }
}
