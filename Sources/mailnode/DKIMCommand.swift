import ArgumentParser
import Defenses
import Foundation

/// `mailnode dkim keygen|sign`: make DKIM keys and sign messages by hand.
struct DKIMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim",
        abstract: "Make DKIM keys and sign messages (RFC 6376, RFC 8463).",
        subcommands: [DKIMKeygen.self, DKIMRecord.self, DKIMSign.self, DKIMBench.self])
}

/// `mailnode dkim keygen --domain D --selector S --algo rsa|ed25519 [--out FILE]`
struct DKIMKeygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate a signing key; write it (PKCS#8 PEM) and print the DNS TXT record to publish.")

    @Option(help: "The signing domain (d=).")
    var domain: String

    @Option(help: "The selector (s=).")
    var selector: String

    @Option(help: "rsa (2048 bits) or ed25519.")
    var algo: DKIMKeyType = .rsa

    @Option(help: "RSA key size in bits (2048 or more).")
    var bits: Int = 2048

    @Option(help: "Write the private key here (mode 0600); without it the key is printed first.")
    var out: String?

    func validate() throws {
        guard bits >= 2048 else { throw ValidationError("--bits must be at least 2048 (RFC 8301 §3.2)") }
    }

    func run() async throws {
        let key = try DKIMSigningKey.generate(algo, rsaBits: bits)
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
                FileHandle.standardError.write(Data("mailnode: cannot write \(out)\n".utf8))
                throw ExitCode(1)
            }
        } else {
            print(key.pemRepresentation, terminator: "")
        }
        print(Self.zoneLine(domain: domain, selector: selector, record: key.keyRecord))
    }

    /// `S._domainkey.D. IN TXT ( "..." "..." )`, split into 255-byte character-strings
    /// ([RFC 6376 §3.6.2.2](https://www.rfc-editor.org/rfc/rfc6376#section-3.6.2.2)).
    static func zoneLine(domain: String, selector: String, record: String) -> String {
        let bytes = Array(record.utf8)
        let strings = stride(from: 0, to: bytes.count, by: 255).map { "\"\(String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self))\"" }
        return "\(selector)._domainkey.\(domain). IN TXT ( \(strings.joined(separator: " ")) )"
    }
}

/// `mailnode dkim record --key K [--domain D --selector S]`: the DNS record of a key that
/// exists already (after a lost keygen output, or for a key `[outbound.dkim] keys` holds).
struct DKIMRecord: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Print the DKIM key record (TXT) of an existing private key; with --domain and --selector as a zone line.")

    @Option(help: "Private key file: PEM (PKCS#1 or PKCS#8, RSA or Ed25519) or a base64 Ed25519 seed.")
    var key: String

    @Option(help: "The signing domain (d=), for a zone line.")
    var domain: String?

    @Option(help: "The selector (s=), for a zone line.")
    var selector: String?

    func validate() throws {
        guard (domain == nil) == (selector == nil) else { throw ValidationError("give --domain and --selector together, or neither") }
    }

    func run() async throws {
        guard let text = try? String(contentsOfFile: key, encoding: .utf8) else { throw ValidationError("cannot read the key file \(key)") }
        let record = try DKIMSigningKey(pem: text).keyRecord
        if let domain, let selector {
            print(DKIMKeygen.zoneLine(domain: domain, selector: selector, record: record))
        } else {
            print(record)
        }
    }
}

/// `mailnode dkim sign --key K --domain D --selector S < in > out`
struct DKIMSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a message from standard input; write the DKIM-Signature field and the message to standard output.")

    @Option(help: "Private key file: PEM (PKCS#1 or PKCS#8, RSA or Ed25519) or a base64 Ed25519 seed.")
    var key: String

    @Option(help: "The signing domain (d=).")
    var domain: String

    @Option(help: "The selector (s=).")
    var selector: String

    @Option(help: "Canonicalization header/body: relaxed/relaxed (default), simple/simple, relaxed/simple, simple/relaxed.")
    var canonicalization: String = "relaxed/relaxed"

    @Option(help: "Seconds until the signature expires (x=); none by default.")
    var expires: Int64?

    func run() async throws {
        let parts = canonicalization.split(separator: "/").compactMap { Canonicalization(rawValue: String($0)) }
        guard parts.count == 2 else { throw ValidationError("--canonicalization must be header/body, e.g. relaxed/simple") }
        guard let text = try? String(contentsOfFile: key, encoding: .utf8) else {
            throw ValidationError("cannot read the key file \(key)")
        }
        var signer = DKIMSigner(domain: domain, selector: selector, key: try DKIMSigningKey(pem: text))
        signer.headerCanonicalization = parts[0]
        signer.bodyCanonicalization = parts[1]
        signer.expiresAfter = expires
        let message = FileHandle.standardInput.readDataToEndOfFile()
        let field = try signer.sign(message: Array(message))
        FileHandle.standardOutput.write(Data(field.wireBytes))
        FileHandle.standardOutput.write(message)
    }
}

extension DKIMKeyType: ExpressibleByArgument {}
