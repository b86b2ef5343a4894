import Testing

@testable import Defenses

/// ``HeaderText``: the fast paths give what the character-by-character paths give.
struct HeaderTextTests {
    @Test func commentsEscapeParenthesesAndBackslashesAndReplaceControls() {
        #expect(HeaderText.comment("mx.test: domain of a@b.test designates 192.0.2.1") == "mx.test: domain of a@b.test designates 192.0.2.1")
        #expect(HeaderText.comment("a (b) c\\d") == "a \\(b\\) c\\\\d")
        #expect(HeaderText.comment("line\r\nbreak\u{7f}") == "line??break?")
        #expect(HeaderText.comment("b\u{fc}cher") == "b\u{fc}cher")
    }

    @Test func dotAtomsTokensAndQuotedStrings() {
        #expect(HeaderText.dotAtomOrQuoted("sender.test") == "sender.test")
        #expect(HeaderText.dotAtomOrQuoted("a-b_c+d/e=f?g^h`i{j|k}l~m!n#o$p%q&r'*") == "a-b_c+d/e=f?g^h`i{j|k}l~m!n#o$p%q&r'*")
        #expect(HeaderText.dotAtomOrQuoted("a@b.test") == "\"a@b.test\"")
        #expect(HeaderText.dotAtomOrQuoted("a..b") == "\"a..b\"")
        #expect(HeaderText.dotAtomOrQuoted("") == "\"\"")
        for text in [".a", "a.", ".", "a.b.", "a b", "a.(b)"] {
            #expect(HeaderText.dotAtomOrQuoted(text) == "\"\(text)\"", "\(text)")
        }
        #expect(HeaderText.dotAtomOrQuoted("a.b.c") == "a.b.c")
        #expect(HeaderText.tokenOrQuoted("rsa-sha256") == "rsa-sha256")
        #expect(HeaderText.tokenOrQuoted("DG/k+Cip") == "\"DG/k+Cip\"")
        #expect(HeaderText.tokenOrQuoted("a b") == "\"a b\"")
        #expect(HeaderText.tokenOrQuoted("say \"hi\"") == "\"say \\\"hi\\\"\"")
    }
}

/// ``HeaderField/hasName(_:)`` compares bytes as ``HeaderField/lowercasedName`` compared strings.
struct HeaderFieldNameTests {
    @Test(arguments: [("From: a", "from", true), ("FROM : a", "From", true), ("From: a", "fro", false), ("Fromx: a", "from", false),
                      ("From\t: a", "FROM", true), ("From a", "from", false), ("X-\u{fc}: a", "x-\u{fc}", true), (": a", "", true)])
    func namesMatchIgnoringASCIICase(raw: String, name: String, expected: Bool) {
        let field = HeaderField(raw: Array(raw.utf8))
        #expect(field.hasName(name) == expected)
        #expect(field.hasName(name) == (field.colonIndex != nil && field.lowercasedName == MessageASCII.lowercased(name)))
    }
}
