import Defenses
import Foundation
import SMTPCore
import Testing

@testable import Roles

/// `[antivirus]`: defaults, every key read, errors as `file:line: key: problem`, one role per process.
@Suite struct AntivirusConfigurationTests {
    static let base = "[node]\nhostname = \"av.test\"\nspool = \"/tmp/x\"\n"

    @Test func defaults() throws {
        let av = try #require(try NodeConfiguration(toml: Self.base + "[antivirus]\n", file: "f").antivirus)
        #expect(av.listen.map(\.description) == ["127.0.0.1:10025"])
        #expect(av.sessionProtocol == .smtp)
        #expect(av.acceptFrom.map(\.description) == ["127.0.0.0/8", "0:0:0:0:0:0:0:1/128"])
        #expect(av.trustedUpstreams.isEmpty)
        #expect(av.clamd == [.unixSocket(path: "/run/clamav/clamd.ctl")])
        #expect(av.failurePolicy == .tempfail && av.action == .reject)
        #expect(av.attachments.blockedExtensions == AttachmentPolicy.defaultExtensions)
        #expect(av.maxMessageSize == 25 * 1024 * 1024 && av.scanTimeout == .seconds(60))
        #expect(av.mimeLimits == MIMELimits())
        #expect(av.quarantineRetention == .seconds(30 * 86_400))
        #expect(try NodeConfiguration(toml: Self.base, file: "f").antivirus == nil)
    }

    @Test func everyKey() throws {
        let text = Self.base + """
            [antivirus]
            listen = ["127.0.0.1:10026", "[::1]:10026"]
            protocol = "lmtp"
            accept_from = ["10.0.0.0/8"]
            trusted_upstreams = ["10.0.0.5"]
            clamd = ["127.0.0.1:3310", "unix:/run/clamav/clamd.ctl"]
            scan_timeout = 20
            failure_policy = "pass-with-header"
            action = "quarantine"
            block_extensions = [".exe", "SCR"]
            extra_extensions = ["xyz"]
            max_message_size = 1048576
            max_depth = 8
            max_parts = 200
            max_decoded = 2097152
            quarantine_retention = 86400
            blocked_attachments = "strip"

            """
        let av = try #require(try NodeConfiguration(toml: text, file: "f").antivirus)
        #expect(av.listen.map(\.description) == ["127.0.0.1:10026", "[::1]:10026"])
        #expect(av.sessionProtocol == .lmtp && av.failurePolicy == .passWithHeader && av.action == .quarantine)
        #expect(av.acceptFrom.map(\.description) == ["10.0.0.0/8"] && av.trustedUpstreams.count == 1)
        #expect(av.clamd == [.tcp(host: "127.0.0.1", port: 3310), .unixSocket(path: "/run/clamav/clamd.ctl")])
        #expect(av.attachments.blockedExtensions == ["exe", "scr", "xyz"])
        #expect(av.maxMessageSize == 1_048_576 && av.scanTimeout == .seconds(20))
        #expect(av.mimeLimits.maxDepth == 8 && av.mimeLimits.maxParts == 200 && av.mimeLimits.maxDecodedBytes == 2_097_152)
        #expect(av.quarantineRetention == .seconds(86_400))
        let stage = av.stageConfiguration
        #expect(stage.action == .quarantine && stage.maxMessageSize == 1_048_576)
        #expect(av.stripBlockedAttachments && stage.stripBlockedAttachments)
        #expect((stage.scanner as? ClamdClient)?.configuration.maxStreamLength == 1_048_576)
    }

    @Test(arguments: [
        ("action = \"drop\"", "f:5: antivirus.action: must be reject or quarantine, got 'drop'"),
        ("failure_policy = \"pass\"", "f:5: antivirus.failure_policy: must be tempfail or pass-with-header, got 'pass'"),
        ("clamd = [\"nowhere\"]", "f:5: antivirus.clamd: 'nowhere' is neither host:port nor unix:/path"),
        ("accept_from = []", "f:5: antivirus.accept_from: is empty: no stage could hand mail to this one"),
        ("accept_from = [\"not-a-net\"]", "f:5: antivirus.accept_from: 'not-a-net' is not an address or CIDR network"),
        ("protocol = \"http\"", "f:5: antivirus.protocol: must be smtp or lmtp, got 'http'"),
        ("extra_extensions = [\"a.b\"]", "f:5: antivirus.extra_extensions: 'a.b' is not a file-name extension"),
        ("max_parts = 0", "f:5: antivirus.max_parts: 0 is out of range 1...100000"),
        ("scan_timout = 3", "f:5: antivirus.scan_timout: unknown key"),
        ("listen = \"nohost\"", "f:5: antivirus.listen: 'nohost' is not host:port"),
    ])
    func errors(line: String, expected: String) throws {
        #expect {
            _ = try NodeConfiguration(toml: Self.base + "[antivirus]\n" + line + "\n", file: "f")
        } throws: { error in
            "\(error)" == expected
        }
    }

    @Test func subTablesAreUnknown() throws {
        #expect {
            _ = try NodeConfiguration(toml: Self.base + "[antivirus]\n[antivirus.clamd]\n", file: "f")
        } throws: { error in
            "\(error)" == "f:5: antivirus.clamd: unknown table"
        }
    }

    @Test func oneRolePerProcess() throws {
        let both = try NodeConfiguration(toml: Self.base + "[antivirus]\n[mx]\ndomains = [\"d.test\"]\n", file: "f")
        #expect(both.mx != nil && both.antivirus != nil)
        #expect(both.running(role: "antivirus").mx == nil && both.running(role: "antivirus").antivirus != nil)
        #expect(both.running(role: "mx").antivirus == nil && both.running(role: "mx").mx != nil)
    }
}
