import SMTPCore
import Testing

@testable import Defenses

@Suite("SPF checker: identities, limits, headers")
struct SPFCheckerTests {
    private static let zone = """
        example.org.        TXT  "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
        mail.example.org.   TXT  "v=spf1 a -all"
        mail.example.org.   A    192.0.2.10
        soft.example.org.   TXT  "v=spf1 ~all"
        slow.example.org.   TXT  "v=spf1 a:never.example.org -all"
        broken.example.org. TXT  "v=spf1 ip4:192.0.2.300 -all"
        """

    private func checker(_ configure: (inout MockResolver) -> Void = { _ in }) throws -> SPFChecker {
        var resolver = try MockResolver(zone: Self.zone)
        configure(&resolver)
        return SPFChecker(resolver: resolver)
    }

    @Test func mailFromAndHELOIdentities() async throws {
        let spf = try checker()
        let from = Mailbox(localPart: "alice", host: .domain("example.org"))
        let verification = await spf.verify(clientIP: IPAddress("192.0.2.10")!, mailFrom: .mailbox(from), helo: "mail.example.org")
        #expect(verification.helo?.result == .pass)
        #expect(verification.helo?.sender == .postmaster("mail.example.org"))
        #expect(verification.mailFrom.result == .pass)
        #expect(verification.mailFrom.domain == "example.org")
        #expect(verification.mailFrom.mechanism == "ip4:192.0.2.0/24")

        let other = await spf.verify(clientIP: IPAddress("198.51.100.1")!, mailFrom: .mailbox(from), helo: "mail.example.org")
        #expect(other.helo?.result == .fail)
        #expect(other.mailFrom.result == .fail)
        #expect(other.mailFrom.explanation == nil)  // no exp=, no default: nothing for the wire
    }

    @Test func nullReversePathUsesHELO() async throws {
        let spf = try checker()
        let bounce = await spf.verify(clientIP: IPAddress("192.0.2.10")!, mailFrom: .null, helo: "mail.example.org")
        #expect(bounce.mailFrom.result == .pass)
        #expect(bounce.mailFrom.identity == .mailFrom)
        #expect(bounce.mailFrom.sender.description == "postmaster@mail.example.org")
        // An address-literal HELO is not checked; a null sender with it gives none (§2.3, §4.3).
        let literal = await spf.verify(clientIP: IPAddress("192.0.2.10")!, mailFrom: .null, helo: "[192.0.2.10]")
        #expect(literal.helo == nil)
        #expect(literal.mailFrom.result == .none)
    }

    @Test func ipv4MappedClientIsIPv4() async throws {
        let spf = try checker()
        let check = await spf.checkMailFrom(clientIP: IPAddress("::ffff:192.0.2.7")!, mailFrom: "a@example.org", helo: "h.example")
        #expect(check.result == .pass)
        #expect(check.clientIP == IPAddress("192.0.2.7"))
    }

    @Test func dnsErrorsAndSyntaxErrors() async throws {
        let spf = try checker { $0.fail("never.example.org", with: .serverFailure) }
        let temp = await spf.checkMailFrom(clientIP: IPAddress("192.0.2.1")!, mailFrom: "a@slow.example.org", helo: "h.example")
        #expect(temp.result == .temperror)
        let perm = await spf.checkMailFrom(clientIP: IPAddress("192.0.2.1")!, mailFrom: "a@broken.example.org", helo: "h.example")
        #expect(perm.result == .permerror)
        #expect(perm.problem?.contains("192.0.2.300") == true)
    }

    /// RFC 7208 §4.6.4: past the time limit the result is temperror, and the look-up in flight
    /// is cancelled.
    @Test func timeLimit() async throws {
        var resolver = try MockResolver(zone: Self.zone)
        resolver.fail("never.example.org", with: .timeout)
        resolver.timeoutDelay = .seconds(30)
        let spf = SPFChecker(resolver: resolver, configuration: SPFConfiguration(timeLimit: .milliseconds(100)))
        let start = ContinuousClock.now
        let check = await spf.checkMailFrom(clientIP: IPAddress("192.0.2.1")!, mailFrom: "a@slow.example.org", helo: "h.example")
        #expect(check.result == .temperror)
        // Far below the 30 s the look-up would take: the limit cut it (loose bound, loaded CI).
        #expect(ContinuousClock.now - start < .seconds(29))
    }

    @Test func defaultExplanationIsAMacroString() async throws {
        var spf = try checker()
        spf.configuration.defaultExplanation = "See https://why.example/?s=%{S}&ip=%{I}"
        let check = await spf.checkMailFrom(clientIP: IPAddress("198.51.100.1")!, mailFrom: "a b@example.org", helo: "h.example")
        #expect(check.result == .fail)
        #expect(check.explanation == "See https://why.example/?s=a%20b%40example.org&ip=198.51.100.1")
    }

    // MARK: - Headers (RFC 7208 §9.1, RFC 8601 §2.7.2)

    @Test func receivedSPFHeader() async throws {
        let spf = try checker()
        let check = await spf.checkMailFrom(clientIP: IPAddress("192.0.2.10")!, mailFrom: "myname@example.org", helo: "foo.example.org")
        #expect(
            check.receivedSPFHeader(receiver: "mybox.example.net")
                == "Received-SPF: pass (mybox.example.net: domain of myname@example.org designates 192.0.2.10 as permitted sender) "
                + "client-ip=192.0.2.10; envelope-from=\"myname@example.org\"; helo=foo.example.org; receiver=mybox.example.net; "
                + "identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";")
        let soft = await spf.checkHELO(clientIP: IPAddress("2001:db8::1")!, helo: "soft.example.org")
        #expect(
            soft.receivedSPF(receiver: "mx")
                == "softfail (mx: transitioning domain of soft.example.org does not designate 2001:db8::1 as permitted sender) "
                + "client-ip=\"2001:db8::1\"; helo=soft.example.org; receiver=mx; identity=helo; mechanism=~all;")
        #expect(soft.authenticationResultsFragment == "spf=softfail smtp.helo=soft.example.org")
    }

    @Test func headerValuesCannotBreakTheHeader() async throws {
        let spf = try checker()
        let check = await spf.checkMailFrom(
            clientIP: IPAddress("192.0.2.10")!, mailFrom: "x@example.org", helo: "evil\r\nX-Injected: (yes) \"q\"")
        let header = check.receivedSPFHeader(receiver: "mx")
        #expect(!header.contains("\r") && !header.contains("\n"))
        #expect(header.contains("helo=\"evil??X-Injected: (yes) \\\"q\\\"\""))
        let perm = await spf.checkMailFrom(clientIP: IPAddress("192.0.2.10")!, mailFrom: "x@broken.example.org", helo: "h.example")
        #expect(perm.authenticationResultsFragment.hasPrefix("spf=permerror reason=\""))
        #expect(perm.authenticationResultsFragment.hasSuffix(" smtp.mailfrom=broken.example.org"))
        #expect(perm.receivedSPF(receiver: "mx").contains("problem=\""))
    }
}
