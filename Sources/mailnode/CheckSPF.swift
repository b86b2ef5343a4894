import ArgumentParser
import Defenses

/// `mailnode check spf --ip 192.0.2.1 --mail-from a@example.org --helo mail.example.org`:
/// SPF ([RFC 7208](https://www.rfc-editor.org/rfc/rfc7208)) for both identities, printed as the
/// `Received-SPF` and `Authentication-Results` a stage would add, then each identity's trail.
struct CheckSPF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spf",
        abstract: "Evaluate SPF (RFC 7208) for a client IP, MAIL FROM and HELO; print Received-SPF and Authentication-Results.")

    @Option(help: "The client's IP address.")
    var ip: String

    @Option(help: "The MAIL FROM address; empty or <> for the null sender.")
    var mailFrom: String

    @Option(help: "The HELO/EHLO name.")
    var helo: String

    @OptionGroup var server: DNSServerOption

    @Option(help: "Our name in the headers (authserv-id).")
    var receiver: String = "localhost"

    func validate() throws {
        guard IPAddress(ip) != nil else { throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(ip)'") }
    }

    func run() async throws {
        let checker = SPFChecker(resolver: server.resolver())
        let verification = await checker.verify(clientIP: IPAddress(ip)!, mailFrom: mailFrom, helo: helo)
        var lines: [String] = []
        if let heloCheck = verification.helo {
            lines.append("HELO \(heloCheck.domain): \(heloCheck.result)")
        }
        let check = verification.mailFrom
        lines.append(check.receivedSPFHeader(receiver: receiver))
        lines.append(AuthenticationResults(authservID: receiver, results: [.spf(check)]).singleLine)
        if let heloCheck = verification.helo {
            lines += CheckOutput.section("trail (HELO \(heloCheck.domain)):", trail: heloCheck.trail)
        }
        if let heloCheck = verification.helo, heloCheck.sender == check.sender, heloCheck.domain == check.domain {
            // RFC 7208 §2.4: the null sender is postmaster@<helo>, the evaluation above.
            lines.append("trail (MAIL FROM \(check.sender)): as for HELO")
        } else {
            lines += CheckOutput.section("trail (MAIL FROM \(check.sender)):", trail: check.trail)
        }
        print(lines.joined(separator: "\n"))
    }
}
