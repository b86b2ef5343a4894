import Foundation
import Testing

@testable import Defenses

/// `mailnode spf record` as a process: the record printed for given addresses, and `--check`
/// evaluating the published record (served by the loopback dnslib server) for each address.
@Suite struct SPFRecordCommandTests {
    @Test func printsTheRecordForTheNamedAddresses() async throws {
        try CheckCommand.requireBinary()
        let (status, output) = try await CheckCommand.run([
            "spf", "record", "--domain", "example.com", "--ip", "192.0.2.25", "--ip", "2001:db8::25", "--ip", "192.0.2.25",
            "--include", "_spf.relay.example",
        ])
        #expect(status == 0, "\(output)")
        #expect(output == "example.com. IN TXT \"v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 include:_spf.relay.example -all\"\n")
        let soft = try await CheckCommand.run(["spf", "record", "--domain", "example.com", "--ip", "192.0.2.25", "--soft"])
        #expect(soft.output.contains("\"v=spf1 ip4:192.0.2.25 ~all\""))
        let bad = try await CheckCommand.run(["spf", "record", "--domain", "example.com", "--ip", "192.0.2.300"])
        #expect(bad.status == 64 && bad.output.contains("--ip must be an IPv4 or IPv6 address"))
    }

    @Test func checkSaysWhetherThePublishedRecordCoversEveryAddress() async throws {
        try CheckCommand.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-spf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let zone = """
            $ORIGIN senders.test.
            $TTL 300
            @ 3600 IN SOA ns.senders.test. hostmaster.senders.test. 1 3600 600 86400 60
            @ TXT "v=spf1 ip4:192.0.2.25 -all"
            """
        try (zone + "\n").write(to: directory.appendingPathComponent("senders.test.zone"), atomically: true, encoding: .utf8)
        try await withDNSTestServer(zones: directory) { dns in
            let covered = try await CheckCommand.run(["spf", "record", "--check", "--domain", "senders.test",
                                                      "--ip", "192.0.2.25", "--dns", "127.0.0.1:\(dns.port)"])
            #expect(covered.status == 0, "\(covered.output)")
            #expect(covered.output.hasPrefix("192.0.2.25\tpass"))
            let missing = try await CheckCommand.run(["spf", "record", "--check", "--domain", "senders.test",
                                                      "--ip", "192.0.2.25", "--ip", "2001:db8::25", "--dns", "127.0.0.1:\(dns.port)"])
            #expect(missing.status == 1)
            #expect(missing.output.contains("2001:db8::25\tfail"))
            #expect(missing.output.contains("\"v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 -all\""))
        }
    }

    @Test func onlyGlobalAddressesAreTakenFromTheInterfaces() {
        let local = ["10.1.2.3", "127.0.0.1", "172.20.0.1", "100.64.0.1", "169.254.1.1", "192.168.1.1", "192.0.2.1",
                     "198.51.100.1", "203.0.113.9", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1", "ff02::1", "2001:db8::1"]
        for text in local { #expect(!LocalInterfaceAddresses.isGlobal(IPAddress(text)!), "\(text)") }
        for text in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2a01:4f8::1", "2001:4860::8888"] {
            #expect(LocalInterfaceAddresses.isGlobal(IPAddress(text)!), "\(text)")
        }
        // This machine has at least a loopback interface; none of the global ones is loopback.
        #expect(LocalInterfaceAddresses.all().contains(IPAddress("127.0.0.1")!))
        #expect(!LocalInterfaceAddresses.globalUnicast().contains { $0.isLoopback })
    }
}
