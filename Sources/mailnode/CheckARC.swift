import ArgumentParser
import Defenses

/// `mailnode check arc [--dns HOST:PORT] < message.eml`: validates the ARC chain
/// ([RFC 8617 §5.2](https://www.rfc-editor.org/rfc/rfc8617#section-5.2)) of a message and prints
/// cv=none/pass/fail, each set's seal and message signature, the newest set's
/// ARC-Authentication-Results, our `arc=` result and the trail. The message is read whole (the
/// body is needed once per ARC-Message-Signature).
struct CheckARC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arc",
        abstract: "Validate the ARC chain (RFC 8617) of a message on standard input; print cv=, each set and the trail.")

    @OptionGroup var server: DNSServerOption

    @Option(help: "Our name in the header (authserv-id).")
    var receiver: String = "localhost"

    @Option(help: "The client's IP address, for smtp.remote-ip in the header.")
    var ip: String?

    func validate() throws {
        if let ip, IPAddress(ip) == nil { throw ValidationError("--ip must be an IPv4 or IPv6 address, got '\(ip)'") }
    }

    func run() async throws {
        var body: [UInt8] = []
        let header = try CheckMessage.read { _, chunk in body += chunk }
        let verification = await ARCVerifier(resolver: server.resolver()).verify(header: header, body: body)
        var lines = ["ARC: cv=\(verification.result)"
            + (verification.instances > 0 ? ", \(verification.instances) set(s)" : "")
            + (verification.oldestPass.map { ", oldest-pass \($0)" } ?? "")
            + (verification.reason.map { " — \($0)" } ?? "")]
        for set in verification.sets { lines.append("set \(set)") }
        if let latest = verification.latestAuthenticationResults { lines.append("newest ARC-Authentication-Results: \(latest)") }
        lines.append(AuthenticationResults(authservID: receiver, results: [.arc(verification, remoteIP: ip.flatMap(IPAddress.init))]).singleLine)
        lines += CheckOutput.section("trail:", trail: verification.trail)
        print(lines.joined(separator: "\n"))
    }
}
