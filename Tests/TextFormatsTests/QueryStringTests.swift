import Testing
import TextFormats

@Suite("QueryString")
struct QueryStringTests {
    @Test("parse splits pairs and decodes only percent escapes")
    func parsePairs() {
        let pairs = QueryString.parse("a=1&&b=x+y&c&d=e=f&%C3%A9=%2F&")
        #expect(pairs?.map(\.0) == ["a", "b", "c", "d", "é"])
        #expect(pairs?.map(\.1) == ["1", "x+y", "", "e=f", "/"])
        #expect(QueryString.parse("")?.isEmpty == true)
        #expect(QueryString.parse("a=%FF") == nil)
    }

    @Test("percentDecode decodes either hex case and refuses short escapes")
    func percentDecode() {
        #expect(QueryString.percentDecode("%3a%3A%41") == "::A")
        #expect(QueryString.percentDecode("100%25") == "100%")
        #expect(QueryString.percentDecode("%") == nil)
        #expect(QueryString.percentDecode("%4") == nil)
        #expect(QueryString.percentDecode("%G0") == nil)
    }
}
