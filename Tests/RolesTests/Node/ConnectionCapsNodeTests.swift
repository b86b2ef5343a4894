import Foundation
import Logging
import NIOPosix
import Roles
import SMTPCore
import Testing

/// The node hands DM12/DM13 (`node.*`) and DM33 (`mx.*`) from its configuration file to its
/// server; their behaviour is tested in SMTPCoreTests (ConnectionCapLiveTests, DataRateLiveTests).
@Suite struct ConnectionCapsNodeTests {
    @Test func configurationReachesTheServer() throws {
        let spool = NSTemporaryDirectory() + "mailnode-caps-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let configuration = try NodeConfiguration(toml: """
            [node]
            hostname = "mx.test"
            spool = "\(spool)"
            max_connections = 7
            max_connections_per_loop = 3
            [mx]
            domains = ["d.test"]
            listen = ["127.0.0.1:0"]
            min_data_rate = 800
            data_rate_grace = 12
            max_data_rate = 65536
            """, file: "node.toml")
        let node = try MailNode(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
                                logger: Logger(label: "test"))
        #expect(node.server.connectionCaps == ConnectionCaps(maxConnections: 7, maxConnectionsPerEventLoop: 3))
        let limits = try #require(node.server.listeners.first?.session.limits)
        #expect(limits.minDataRate == 800)
        #expect(limits.dataRateGrace == 12)
        #expect(limits.maxDataRate == 65536)
    }
}
