import Foundation
import NIOSSL
import Roles
import SMTPCore
import Testing
import X509

@Suite struct DevelopmentSetupTests {
    static func scratch() -> String {
        NSTemporaryDirectory() + "mailnode-up-" + UUID().uuidString
    }

    @Test func preparesAWorkingDirectoryOnce() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, created) = try DevelopmentSetup.prepare(directory: directory)
        #expect(created)
        let configuration = try NodeConfiguration(toml: String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(configuration.mx?.localDomains.contains(DevelopmentSetup.sampleDomain) == true)
        #expect(configuration.mx?.listen == [ListenAddress(host: "127.0.0.1", port: DevelopmentSetup.defaultPort)])
        #expect(configuration.spoolDirectory.hasSuffix("/spool"))
        #expect(!configuration.hasNextHop)
        // mx, submission and the store, chained in one process: the mx hands local mail to the
        // store and refuses unknown users against the store's directory.
        let stages = configuration.stages()
        #expect(stages.map(\.role) == ["mx", "submission", "store"])
        #expect(stages[0].configuration.routing.routes[DevelopmentSetup.sampleDomain]?.port == 10024)
        #expect(stages[0].configuration.mx?.recipientDirectory?.usersPath == configuration.store?.usersPath)
        #expect(configuration.submission?.listen.map(\.description) == ["127.0.0.1:5587"])
        #expect(configuration.store?.pop3sListen.map(\.description) == ["127.0.0.1:1995"])
        // The key is private to its owner.
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/tls/key.pem")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // A second run keeps the (possibly edited) file.
        try "# edited\n".appendingToFile(path)
        let again = try DevelopmentSetup.prepare(directory: directory)
        #expect(!again.created)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasSuffix("# edited\n"))
    }

    @Test func certificateLoadsInNIOSSLAndNamesLoopback() throws {
        let (certificatePEM, keyPEM) = try DevelopmentSetup.selfSignedCertificate(hostname: "localhost")
        let certificates = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
        #expect(certificates.count == 1)
        _ = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))))
        _ = context
        let parsed = try Certificate(pemEncoded: certificatePEM)
        let names = try #require(try parsed.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(parsed.notValidAfter > Date().addingTimeInterval(300 * 86_400))
        #expect(parsed.issuer == parsed.subject)
    }
}

extension String {
    func appendingToFile(_ path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}
