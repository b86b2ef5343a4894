import Foundation
import Testing

@testable import Defenses

/// The RFC 5782 test points of `Fixtures/conformance/dnsbl/rfc5782-test-points.json` (§5 "DNSxL
/// Testing" entries and the §2.1 / §2.4 / §2.3 query-name rules; source and licence in the README
/// beside it), copied from the shared conformance collection so the suite needs nothing outside
/// the repository. When the shared file is present it must still be identical.
@Suite("RFC 5782 test points")
struct DNSListConformanceTests {
    static let fixture = DNSFixtures.root.appendingPathComponent("Fixtures/conformance/dnsbl/rfc5782-test-points.json")

    struct Example: Decodable {
        var client_ip: String
        var query: String
    }

    struct Family: Decodable {
        var must_be_listed: String
        var must_not_be_listed: String
        var query_listed: String
        var query_not_listed: String
        var example: Example?
    }

    struct Points: Decodable {
        var zone_placeholder: String
        var ipv4: Family
        var ipv6: Family
        var domain_lists: Family
    }

    static let sharedPath = DNSFixtures.root.deletingLastPathComponent()
        .appendingPathComponent("shared/conformance/dnsbl/rfc5782-test-points.json")

    static func points() throws -> Points {
        try JSONDecoder().decode(Points.self, from: Data(contentsOf: fixture))
    }

    /// One test point: a name, and whether our code agrees with the file.
    struct Point: CustomStringConvertible, Sendable {
        var name: String
        var check: @Sendable () async throws -> Bool
        var description: String { name }
    }

    /// Every test point the file defines, as checks against our code.
    static func allPoints() throws -> [Point] {
        let file = try points()
        let zone = DNSListZone(file.zone_placeholder, subjects: [.clientIP, .mailFromDomain])
        var out: [Point] = []
        // Query names (§2.1 IPv4 reversed octets, §2.4 IPv6 reversed nibbles, §2.3 domains).
        out.append(Point(name: "ipv4 query_listed") { zone.queryName(for: IPAddress(file.ipv4.must_be_listed)!) == file.ipv4.query_listed })
        out.append(Point(name: "ipv4 query_not_listed") { zone.queryName(for: IPAddress(file.ipv4.must_not_be_listed)!) == file.ipv4.query_not_listed })
        out.append(Point(name: "ipv4 example") { zone.queryName(for: IPAddress(file.ipv4.example!.client_ip)!) == file.ipv4.example!.query })
        out.append(Point(name: "ipv6 query_listed") { zone.queryName(forIPv6: IPv6Address(file.ipv6.must_be_listed)!) == file.ipv6.query_listed })
        out.append(Point(name: "ipv6 query_not_listed") { zone.queryName(forIPv6: IPv6Address(file.ipv6.must_not_be_listed)!) == file.ipv6.query_not_listed })
        out.append(Point(name: "ipv6 example") { zone.queryName(for: IPAddress(file.ipv6.example!.client_ip)!) == file.ipv6.example!.query })
        out.append(Point(name: "domain query_listed") { try zone.queryName(forDomain: file.domain_lists.must_be_listed) == file.domain_lists.query_listed })
        out.append(Point(name: "domain query_not_listed") { try zone.queryName(forDomain: file.domain_lists.must_not_be_listed) == file.domain_lists.query_not_listed })
        // The health check's names are the file's must / must-not names (§5).
        for (family, points) in [(DNSListTestFamily.ipv4, file.ipv4), (.ipv6, file.ipv6), (.domain, file.domain_lists)] {
            out.append(Point(name: "\(family) health-check names") {
                let names = family.testNames(in: zone)
                return names.listed == points.query_listed && names.notListed == points.query_not_listed
            })
        }
        // §5 behaviour per family: a list with the must-be-listed entry and without the
        // must-not entry is healthy; missing the first, or listing the second, is unusable.
        for (family, points) in [(DNSListTestFamily.ipv4, file.ipv4), (.ipv6, file.ipv6), (.domain, file.domain_lists)] {
            out.append(Point(name: "\(family) healthy list passes") {
                var dns = MockResolver()
                dns.add(.a(IPv4Address("127.0.0.2")!), at: points.query_listed)
                let report = await DNSListChecker(resolver: dns, configuration: DNSListConfiguration(zones: [zone], timeLimit: .seconds(300))).healthCheck(zone, family: family)
                return report.health == .healthy
            })
            out.append(Point(name: "\(family) missing must-be-listed entry is unusable") {
                let report = await DNSListChecker(resolver: MockResolver(), configuration: DNSListConfiguration(zones: [zone], timeLimit: .seconds(300)))
                    .healthCheck(zone, family: family)
                if case .unhealthy = report.health { return true }
                return false
            })
            out.append(Point(name: "\(family) listing must-not-be-listed entry is unusable") {
                var dns = MockResolver()
                dns.add(.a(IPv4Address("127.0.0.2")!), at: points.query_listed)
                dns.add(.a(IPv4Address("127.0.0.2")!), at: points.query_not_listed)
                let report = await DNSListChecker(resolver: dns, configuration: DNSListConfiguration(zones: [zone], timeLimit: .seconds(300))).healthCheck(zone, family: family)
                if case .unhealthy = report.health { return true }
                return false
            })
        }
        // The "semantics" of the file.
        let client = IPAddress(file.ipv4.example!.client_ip)!
        @Sendable func verdict(_ configure: (inout MockResolver) -> Void) async -> DNSListVerdict {
            var dns = MockResolver()
            dns.add(.a(IPv4Address("127.0.0.2")!), at: file.ipv4.query_listed)
            configure(&dns)
            let ipZone = DNSListZone(file.zone_placeholder)
            return await DNSListChecker(resolver: dns, configuration: DNSListConfiguration(zones: [ipZone], timeLimit: .seconds(300))).check(clientIP: client)
        }
        out.append(Point(name: "A record in 127/8 is a listing") {
            await verdict { $0.add(.a(IPv4Address("127.0.0.2")!), at: file.ipv4.example!.query) }.result == .listed
        })
        out.append(Point(name: "NXDOMAIN is not listed") { await verdict { _ in }.result == .notListed })
        out.append(Point(name: "SERVFAIL is neither listed nor clean") {
            await verdict { $0.fail(file.ipv4.example!.query, with: .serverFailure) }.result == .unknown
        })
        out.append(Point(name: "timeout is neither listed nor clean") {
            await verdict { $0.fail(file.ipv4.example!.query, with: .timeout) }.result == .unknown
        })
        out.append(Point(name: "answer outside 127/8 is not a listing") {
            await verdict { $0.add(.a(IPv4Address("192.0.2.1")!), at: file.ipv4.example!.query) }.result == .notListed
        })
        out.append(Point(name: "127.255.255.x error code is not a listing") {
            await verdict { $0.add(.a(IPv4Address("127.255.255.254")!), at: file.ipv4.example!.query) }.result == .unknown
        })
        return out
    }

    @Test func fixtureIsTheSharedFile() throws {
        let ours = try Data(contentsOf: Self.fixture)
        #expect(try Self.points().zone_placeholder == "dnsbl.example")
        guard let shared = FileManager.default.contents(atPath: Self.sharedPath.path) else { return }   // not on this machine
        #expect(shared == ours, "Fixtures/conformance/dnsbl/rfc5782-test-points.json differs from the shared copy")
    }

    @Test func allTestPointsPass() async throws {
        let points = try Self.allPoints()
        var failed: [String] = []
        for point in points where !(try await point.check()) {
            failed.append(point.name)
        }
        if ProcessInfo.processInfo.environment["DNSBL_SUITE_VERBOSE"] != nil || !failed.isEmpty {
            print("RFC 5782 test points: \(points.count - failed.count)/\(points.count) pass; failed: \(failed)")
        }
        #expect(points.count == 26)
        #expect(failed.isEmpty, "failed: \(failed)")
    }
}
