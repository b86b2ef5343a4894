import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import Testing

@testable import Defenses

/// What the antivirus stage counts (issue 10): scanned, infected, blocked attachments, scanner
/// errors, the latency histogram, and DM28's outcomes — with a real clamd over real sessions.
@Suite("antivirus metrics", .serialized)
struct AntivirusMetricsTests {
    @Test func theStageCountsWhatItDid() async throws {
        let eicar = try AntivirusFixtures.eicar()
        try await withClamd { clamd in
            let metrics = DefenseMetrics()
            var configuration = AntivirusConfiguration(scanner: AntivirusSessionTests.scanner([clamd.tcp]))
            configuration.metrics = metrics
            let server = AntivirusSessionTests.server(configuration, receiver: MemoryMessageReceiver())
            let port = try #require(try await server.start().first?.port)

            #expect(try await AntivirusSessionTests.send(port, AntivirusMessages.clean)?.code == .ok)
            #expect(try await AntivirusSessionTests.send(port, AntivirusMessages.withAttachment(eicar, name: "a.txt"))?.code.rawValue == 554)
            let blocked = AntivirusMessages.withAttachment(Array("x".utf8), name: "run.exe")
            #expect(try await AntivirusSessionTests.send(port, blocked)?.code.rawValue == 554)
            #expect(metrics.antivirus.count(.scanned) == 2)
            #expect(metrics.antivirus.count(.infected) == 1)
            #expect(metrics.antivirus.count(.blockedAttachment) == 1)
            #expect(metrics.antivirus.count(.scannerError) == 0)
            #expect(metrics.antivirus.observedScans == 2)   // the blocked attachment never reached clamd
            #expect(metrics.count("DM28", .rejected) == 2)

            await clamd.terminate()
            #expect(try await AntivirusSessionTests.send(port, AntivirusMessages.clean)?.code.rawValue == 451)
            #expect(metrics.antivirus.count(.scannerError) == 1)
            #expect(metrics.count("DM28", .deferred) == 1)

            let text = metrics.prometheusText()
            #expect(text.contains("mailnode_defense_actions_total{defense=\"DM28\",outcome=\"rejected\"} 2\n"), "\(text)")
            #expect(text.contains("mailnode_antivirus_messages_total{result=\"infected\"} 1\n"), "\(text)")
            #expect(text.contains("# TYPE mailnode_antivirus_scan_duration_seconds histogram\n"))
            #expect(text.contains("mailnode_antivirus_scan_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "\(text)")
            #expect(text.contains("mailnode_antivirus_scan_duration_seconds_count 3\n"), "\(text)")
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    @Test func histogramBucketsAreCumulative() {
        let metrics = ScanMetrics()
        #expect(metrics.prometheusText().isEmpty)   // an mx node shows nothing of it
        metrics.observeScan(seconds: 0.003)
        metrics.observeScan(seconds: 0.2)
        metrics.observeScan(seconds: 120)
        let text = metrics.prometheusText()
        #expect(text.contains("mailnode_antivirus_scan_duration_seconds_bucket{le=\"0.005\"} 1\n"))
        #expect(text.contains("mailnode_antivirus_scan_duration_seconds_bucket{le=\"0.1\"} 1\n"))
        #expect(text.contains("mailnode_antivirus_scan_duration_seconds_bucket{le=\"0.25\"} 2\n"))
        #expect(text.contains("mailnode_antivirus_scan_duration_seconds_bucket{le=\"60\"} 2\n"))
        #expect(text.contains("mailnode_antivirus_scan_duration_seconds_bucket{le=\"+Inf\"} 3\n"))
        #expect(text.contains("mailnode_antivirus_scan_duration_seconds_sum 120.203\n"))
        #expect(text.contains("mailnode_antivirus_messages_total{result=\"scanned\"} 0\n"))
    }
}
