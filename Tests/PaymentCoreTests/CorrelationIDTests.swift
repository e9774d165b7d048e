import Testing

@testable import PaymentCore

@Suite("CorrelationID")
struct CorrelationIDTests {
    @Test(
        "isValid accepts the 8-4-4-4-12 hexadecimal form in either case",
        arguments: [
            "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3", "4A7901B8-7D26-4D9D-AA19-4DC1C7CF60B3",
            "4a7901B8-7d26-4D9d-aa19-4dc1c7cf60b3", "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ])
    func valid(text: String) {
        #expect(CorrelationID.isValid(text))
    }

    @Test(
        "isValid refuses anything else",
        arguments: [
            "", "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b", "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b33",
            "4a7901b87d264d9daa194dc1c7cf60b3", "4a7901b8-7d26-4d9d-aa194dc1c7cf60b3-",
            "4a7901b-87d26-4d9d-aa19-4dc1c7cf60b3", "{4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3}",
            "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60bg", "4a7901b8_7d26_4d9d_aa19_4dc1c7cf60b3",
            " 4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3", "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3 ",
            "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\n", "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60\u{E9}",
            "------------------------------------",
        ])
    func invalid(text: String) {
        #expect(!CorrelationID.isValid(text))
    }

    @Test("isValid reads a Substring")
    func substring() {
        let text = "id=4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3"
        #expect(CorrelationID.isValid(text.dropFirst(3)))
        #expect(!CorrelationID.isValid(text.dropFirst(2)))
    }
}
