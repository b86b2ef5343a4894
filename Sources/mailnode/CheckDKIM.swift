import ArgumentParser
import Defenses
import Foundation

/// `mailnode check dkim [--dns HOST:PORT] < message.eml`: verify every DKIM signature of a
/// message read from standard input (streamed: the body is hashed as it is read).
struct CheckDKIM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim",
        abstract: "Verify the DKIM signatures (RFC 6376, RFC 8463) of a message on standard input; print one result per signature.")

    @Option(help: "DNS server host:port (default: the nameservers of /etc/resolv.conf).")
    var dns: String?

    @Option(help: "Our name in the header (authserv-id).")
    var receiver: String = "localhost"

    func validate() throws {
        if let dns, DNSServerAddress(dns) == nil { throw ValidationError("--dns must be host:port, got '\(dns)'") }
    }

    func run() async throws {
        let configuration = dns.flatMap(DNSServerAddress.init).map { DNSResolverConfiguration(nameservers: [$0]) }
            ?? DNSResolverConfiguration.system()
        let verifier = DKIMVerifier(resolver: LDNSResolver(configuration: configuration))
        var reader = MessageReader()
        var pending: DKIMPendingVerification?
        do {
            while let chunk = try FileHandle.standardInput.read(upToCount: 64 * 1024), !chunk.isEmpty {
                let body = try reader.feed(Array(chunk))
                if pending == nil, let header = reader.header { pending = verifier.begin(header: header) }
                pending?.update(body)
            }
            if pending == nil { pending = verifier.begin(header: try reader.finish()) }
        } catch let error as MessageError {
            FileHandle.standardError.write(Data("mailnode: the message was refused: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let results = await verifier.finish(pending!)
        print(Self.report(results, receiver: receiver))
    }

    /// One line per signature, then an Authentication-Results field
    /// ([RFC 8601 §2.7.1](https://www.rfc-editor.org/rfc/rfc8601#section-2.7.1)).
    static func report(_ results: [DKIMVerification], receiver: String) -> String {
        var lines = results.isEmpty ? ["no DKIM signature"] : results.enumerated().map { index, verification in
            "signature \(index + 1): \(verification)" + (verification.keyBits.map { " [\($0)-bit key]" } ?? "")
        }
        var header = AuthenticationResults(authservID: receiver)
        header.append(dkim: results)
        lines.append(header.field.description)
        return lines.joined(separator: "\n")
    }
}
