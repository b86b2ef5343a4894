import Testing

@testable import Defenses

/// The text helpers DKIM reads `b=`, `bh=`, `p=` and the `h=` list with: FWS goes wherever it is,
/// colon lists keep empty items (the callers refuse them), case-blind comparison is ASCII only.
struct DKIMTagListTextTests {
    @Test func removingFWSDropsEverySpaceTabAndLineBreak() {
        #expect(DKIMTagList.removingFWS("ab\r\n\tc d  e") == "abcde")
        #expect(DKIMTagList.removingFWS("unchanged") == "unchanged")
        #expect(DKIMTagList.removingFWS(" \t\r\n") == "")
        #expect(DKIMTagList.removingFWS("é \tü") == "éü")
    }

    @Test func colonListSplitsAtEveryColonWithoutFWS() {
        #expect(DKIMTagList.colonList("From : To:\r\n Subject") == ["From", "To", "Subject"])
        #expect(DKIMTagList.colonList("from::to:") == ["from", "", "to", ""])
        #expect(DKIMTagList.colonList("") == [""])
        #expect(DKIMTagList.colonList("from") == ["from"])
    }

    @Test func equalsIgnoringCaseIsASCIIOnly() {
        #expect(MessageASCII.equalsIgnoringCase("FrOm", "from"))
        #expect(!MessageASCII.equalsIgnoringCase("from ", "from"))
        #expect(!MessageASCII.equalsIgnoringCase("fröm", "FRÖM"))
        #expect(MessageASCII.equalsIgnoringCase("", ""))
    }
}
