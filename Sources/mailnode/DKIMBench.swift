import ArgumentParser
import Defenses
import Foundation

/// `mailnode dkim bench --signed FILE --key K [--seconds S]`: how many DKIM verifications per
/// second this machine does on one core, like `openssl speed` (bench/dkim.sh sets it next to
/// dkimpy's figure for the same file).
struct DKIMBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Verify one signed message over and over on one core; print verifications per second.",
        discussion: """
            The public key is derived from --key and answered from memory for the signature's \
            selector and domain, so the figure is the verifier's work (header parsing, both \
            canonicalisations, the body hash, the signature check), not DNS. Every verification \
            must pass, or the command exits 1.
            """)

    @Option(help: "A message with one DKIM-Signature (e.g. from `mailnode dkim sign`).")
    var signed: String

    @Option(help: "The private key that signed it (its public half is served as the key record).")
    var key: String

    @Option(help: "How long to run, in seconds.")
    var seconds: Double = 5

    func validate() throws {
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
    }

    func run() async throws {
        guard let message = FileManager.default.contents(atPath: signed).map(Array.init) else {
            throw ValidationError("cannot read \(signed)")
        }
        guard let text = try? String(contentsOfFile: key, encoding: .utf8) else { throw ValidationError("cannot read the key file \(key)") }
        let record = Array(try DKIMSigningKey(pem: text).keyRecord.utf8)
        guard let field = try MessageHeader.parse(message).first(named: "DKIM-Signature") else {
            throw ValidationError("\(signed) has no DKIM-Signature")
        }
        let signature = try DKIMSignature.parse(field)
        var dns = MockResolver()
        let strings = stride(from: 0, to: record.count, by: 255).map { Array(record[$0..<min($0 + 255, record.count)]) }
        dns.add(.txt(TXTRecord(strings: strings)), at: "\(signature.selector)._domainkey.\(signature.domain)")
        let verifier = DKIMVerifier(resolver: dns)

        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        var count = 0
        repeat {
            let results = try await verifier.verify(message: message)
            guard results.map(\.result) == [.pass] else {
                FileHandle.standardError.write(Data("mailnode: the verification did not pass: \(results.map(\.result))\n".utf8))
                throw ExitCode(1)
            }
            count += 1
        } while clock.now < deadline
        let elapsed = clock.now - start
        let taken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("algorithm=\(signature.algorithm) c=\(signature.headerCanonicalization)/\(signature.bodyCanonicalization) "
            + "octets=\(message.count) verifications=\(count) seconds=\(String(format: "%.2f", taken)) "
            + "per_second=\(String(format: "%.1f", Double(count) / taken))")
    }
}
