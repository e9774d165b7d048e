import Testing
import TextFormats

@Suite("JSONText")
struct JSONTextTests {
    @Test("quotes and escapes what JSON requires, and JSONScanner reads it back")
    func quoted() {
        let text = "a\"b\\c\u{01}\u{1F}é/"
        let literal = JSONText.quoted(text)
        #expect(literal == #""a\"b\\c\u0001\u001fé/""#)
        #expect(JSONScanner.parseObject(Array("{\"k\":\(literal)}".utf8))?.first?.1 == .string(text))
    }
}
