import SMTPCore
import Testing

/// ``SessionAttributes``: what hooks keep per session, shared by copies of one context.
@Suite struct SessionAttributesTests {
    @Test func copiesOfAContextShareTheirAttributes() {
        let key = SessionAttributeKey<Int>("count")
        let context = SessionContext(sessionID: "S1")
        var copy = context
        copy.heloName = .domain("client.example")
        copy.attributes[key] = 7
        #expect(context.attributes[key] == 7)
        #expect(SessionContext(sessionID: "S1").attributes[key] == nil)   // another session
        copy.attributes[key] = nil
        #expect(context.attributes[key] == nil)
    }

    @Test func keysAreDistinctEvenWithTheSameName() {
        let first = SessionAttributeKey<String>("verdict")
        let second = SessionAttributeKey<String>("verdict")
        let attributes = SessionAttributes()
        attributes[first] = "listed"
        #expect(attributes[second] == nil)
        let copied = first
        #expect(attributes[copied] == "listed")
        #expect(first != second && first == copied)
    }

    @Test func valueOrInsertCreatesOnce() {
        let key = SessionAttributeKey<[Int]>("made")
        let attributes = SessionAttributes()
        var made = 0
        let a = attributes.value(for: key) { made += 1; return [1] }
        let b = attributes.value(for: key) { made += 1; return [2] }
        #expect(a == [1] && b == [1] && made == 1)
    }

    @Test func equalityIsIdentity() {
        let one = SessionAttributes()
        #expect(one == one)
        #expect(one != SessionAttributes())
        #expect(SessionContext(sessionID: "S1") != SessionContext(sessionID: "S1"))
    }
}
