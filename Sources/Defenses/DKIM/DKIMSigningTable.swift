import Foundation

/// Which keys sign mail of which author domain: the outbound stage's key set (DM31,
/// [RFC 6376 §5](https://www.rfc-editor.org/rfc/rfc6376#section-5)).
///
/// Read from a directory laid out as `DIR/<domain>/<selector>.pem` — what
/// `mailnode dkim keygen --domain D --selector S --out DIR/D/S.pem` writes. Several keys for one
/// domain (an RSA and an Ed25519 key) each add a signature (RFC 8463 §6, dual signing), in
/// selector order. A domain's keys also sign mail of its subdomains (`d=example.org` on mail
/// from `news.example.org`: DMARC's relaxed alignment, RFC 7489 §3.1.1), unless the subdomain
/// has keys of its own.
public struct DKIMSigningTable: Sendable {
    /// Lower-case domain → its signers, by selector.
    public private(set) var signers: [String: [DKIMSigner]]

    public init(signers: [String: [DKIMSigner]] = [:]) {
        self.signers = Dictionary(uniqueKeysWithValues: signers.map { (MessageASCII.lowercased($0.key), $0.value) })
    }

    public var isEmpty: Bool { signers.isEmpty }

    /// Domains with keys, sorted.
    public var domains: [String] { signers.keys.sorted() }

    /// The signers for mail whose author (RFC 5322 From) domain is `authorDomain`: its own keys,
    /// else those of the nearest parent domain that has some; nil when none has.
    public func signers(forAuthorDomain authorDomain: String) -> [DKIMSigner]? {
        var domain = MessageASCII.lowercased(authorDomain)
        if domain.hasSuffix(".") { domain.removeLast() }
        while true {
            if let found = signers[domain], !found.isEmpty { return found }
            guard let dot = domain.firstIndex(of: ".") else { return nil }
            domain = String(domain[domain.index(after: dot)...])
            guard domain.contains(".") else { return nil }   // never a key for a bare TLD
        }
    }

    /// Reads `directory/<domain>/<selector>.pem`. A file that is not a usable key, a domain or
    /// selector name DKIM cannot carry, or an unreadable directory is an error (the stage must
    /// not start and then send unsigned mail); `warnings` lists keys readable by group or others.
    public static func load(directory: String, warnings: inout [String]) throws(DKIMKeyError) -> DKIMSigningTable {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DKIMKeyError("\(directory): not a directory")
        }
        let domains: [String]
        do {
            domains = try manager.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw DKIMKeyError("\(directory): \(error.localizedDescription)")
        }
        var table: [String: [DKIMSigner]] = [:]
        for domain in domains {
            let domainPath = directory + "/" + domain
            guard manager.fileExists(atPath: domainPath, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DKIMKeyError("\(domainPath): expected a directory named after a domain, holding SELECTOR.pem files")
            }
            guard DKIMSignature.isDomainName(domain) else { throw DKIMKeyError("\(domainPath): '\(domain)' is not a domain name") }
            let files: [String]
            do {
                files = try manager.contentsOfDirectory(atPath: domainPath).filter { $0.hasSuffix(".pem") && !$0.hasPrefix(".") }.sorted()
            } catch {
                throw DKIMKeyError("\(domainPath): \(error.localizedDescription)")
            }
            for file in files {
                let path = domainPath + "/" + file
                let selector = String(file.dropLast(4))
                guard DKIMSignature.isSelector(selector) else { throw DKIMKeyError("\(path): '\(selector)' is not a DKIM selector") }
                guard let data = manager.contents(atPath: path) else { throw DKIMKeyError("\(path): cannot read") }
                let key: DKIMSigningKey
                do {
                    key = try DKIMSigningKey(pem: String(decoding: data, as: UTF8.self))
                } catch {
                    throw DKIMKeyError("\(path): \(error.description)")
                }
                if let mode = (try? manager.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
                    warnings.append("\(path): private key readable by group or others (mode \(String(mode, radix: 8))); chmod 600")
                }
                table[MessageASCII.lowercased(domain), default: []].append(DKIMSigner(domain: MessageASCII.lowercased(domain), selector: selector, key: key))
            }
        }
        return DKIMSigningTable(signers: table)
    }
}
