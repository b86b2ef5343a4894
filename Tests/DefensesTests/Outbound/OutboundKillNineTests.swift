import Foundation
import NIOCore
import NIOPosix
import Testing

/// Issue 9's "`kill -9` during a delivery burst loses no message": a real `mailnode --role
/// outbound` process delivers by MX (over Tests/interop/dns_server.py on loopback) to several
/// recipient domains whose exchangers are all one sink on 127.0.0.1, while it is killed with
/// SIGKILL several times and restarted on the same spool. Every message whose hand-off got a 250
/// must reach the sink; duplicates are counted and bounded.
///
/// Parts (all real processes, started through the signal-mask shim, see ``Child``):
/// - `Tests/interop/crash_load.py`: N messages (unique Message-ID, `X-Crash-Attempt: n`), one
///   recipient each, spread over the zone's domains, retried until each gets a 250; one JSON
///   line per attempt (acked + queue id / ambiguous / refused / rejected).
/// - `Tests/interop/crash_sink.py`: the mail exchanger of every domain (aiosmtpd), fsyncing one
///   JSON line per accepted message (Message-ID, attempt, the node's queue id from its
///   `Mailnode-Id:` field) before its 250. It is never killed, so it outlives every node.
///
/// The sink answers each message after 0.2 s, so the node has many deliveries open at once (a
/// burst: up to its 20 in flight). The kills are spread over the load by its progress, and each
/// falls only when something is queued (handed over, not yet delivered): it hits deliveries in
/// flight rather than an idle node.
///
/// `MAILNODE_OUTBOUND_CRASH_SABOTAGE=1` makes the test delete one acknowledged, not yet delivered
/// queue file while the node is down: the test must then fail with one message lost (it did when
/// this was written; that is how we know the loss check works).
@Suite(.timeLimit(.minutes(3)))
struct OutboundKillNineTests {
    static let messages = 300
    static let kills = 5
    static let domains = (0..<8).map { "d\($0).crash.test" }
    /// Sessions of the load: each can lose at most one 250 per kill.
    static let loadConcurrency = 8
    /// `SpoolRunnerConfiguration.maxConcurrentDeliveries`' default (not configurable in the file).
    static let deliveriesInFlight = 20
    /// The sink takes this long per message (seconds) before its 250: the node keeps up to
    /// `deliveriesInFlight` deliveries open at once, and a kill interrupts many of them.
    static let sinkDelay = 0.2

    static func zone() -> String {
        var lines = ["$ORIGIN crash.test.", "$TTL 300", "@ 3600 IN SOA ns.crash.test. hostmaster.crash.test. 1 3600 600 86400 60"]
        for domain in domains.map({ $0.replacingOccurrences(of: ".crash.test", with: "") }) + ["src"] {
            lines += ["\(domain) MX 10 mx.\(domain)", "mx.\(domain) A 127.0.0.1"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func configuration(spool: String, dnsPort: UInt16, port: Int, sinkPort: Int) -> String {
        """
        [node]
        hostname = "out.crash.test"
        spool = "\(spool)"

        [dns]
        servers = ["127.0.0.1:\(dnsPort)"]

        [outbound]
        listen = ["127.0.0.1:\(port)"]
        port = \(sinkPort)
        tls = "none"
        mta_sts = false

        [retry]
        initial_delay = 1
        max_delay = 2
        jitter_percent = 0
        """
    }

    /// A child process with its output in files. The test runner blocks SIGTERM and friends and
    /// Foundation's `Process` passes that mask on, so it starts through the Perl shim of
    /// Tests/SMTPCoreTests/Interop/InteropSupport.swift, which clears the mask and execs.
    /// Every wait polls (`isRunning`) and never blocks a cooperative thread.
    final class Child {
        let process = Process()
        let outputPath: String

        init(_ executable: String, _ arguments: [String], output: String) throws {
            outputPath = output
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let perl = "/usr/bin/perl"
            if FileManager.default.isExecutableFile(atPath: perl) {
                process.executableURL = URL(fileURLWithPath: perl)
                process.arguments = ["-MPOSIX", "-e",
                                     #"sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!"; "#
                                         + #"exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";"#,
                                     executable] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        var isRunning: Bool { process.isRunning }
        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        var status: Int32 { process.isRunning ? -1 : process.terminationStatus }

        func signal(_ number: Int32) {
            if process.isRunning { kill(process.processIdentifier, number) }
        }

        func waitForExit(timeout: Duration) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                if ContinuousClock.now >= deadline { return false }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return true
        }

        /// Polls the output until `predicate` finds something or the process exits.
        func waitFor<T>(timeout: Duration, _ predicate: (String) -> T?) async -> T? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let found = predicate(output) { return found }
                if !process.isRunning { return predicate(output) }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return nil
        }
    }

    struct Attempt: Decodable {
        var mid: String
        var attempt: Int
        var outcome: String
        var queue_id: String?
    }

    struct Arrival: Decodable {
        var mid: String?
        var attempt: String?
        var spool_id: String?
        var rcpt: [String]?
    }

    /// The Python that has aiosmtpd (the sink); crash_load.py needs only the standard library.
    enum SinkPython {
        static let interpreter = PythonInterpreter.find("import aiosmtpd", missing: """
            The outbound crash test needs Python 3 with aiosmtpd for Tests/interop/crash_sink.py: \
            apt-get install -y python3-aiosmtpd (or pip install aiosmtpd; MAILNODE_PYTHON selects the interpreter).
            """)
    }

    /// A free port below Linux's ephemeral range (32768–60999): the node is restarted on the same
    /// port after every kill, and a port from that range can meanwhile become the local port of
    /// some other test's outgoing connection.
    static func portBelowEphemeralRange() async throws -> Int {
        for _ in 0..<50 {
            let candidate = Int.random(in: 20_000..<32_000)
            if let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: candidate).get() {
                try await channel.close()
                return candidate
            }
        }
        throw DNSTestServerUnavailable(description: "no free port between 20000 and 32000")
    }

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
        var addressInUse: Bool { description.contains("Address already in use") }
    }

    /// One `mailnode --role outbound` process, listening (its `mailnode up` line is out).
    static func startNode(config: String, scratch: String, number: Int) async throws -> Child {
        let binary = DNSFixtures.root.appendingPathComponent(".build/debug/mailnode").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the mailnode binary first (swift build --build-tests)")
        let node = try Child(binary, ["--role", "outbound", "--config", config, "--log-level", "notice"],
                             output: scratch + "/node\(number).log")
        let up = await node.waitFor(timeout: .seconds(60)) { $0.contains("mailnode up") ? true : nil }
        guard up == true, node.isRunning else {
            node.signal(SIGKILL)
            _ = await node.waitForExit(timeout: .seconds(5))
            throw StartFailure(description: "mailnode --role outbound did not start:\n\(node.output)")
        }
        return node
    }

    /// Restarts the node on its port. While it is down, another test's connection can hold that
    /// port for a moment (bind: address in use): try again shortly.
    static func restart(config: String, scratch: String, number: Int) async throws -> Child {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await startNode(config: config, scratch: scratch, number: number)
            } catch let error as StartFailure where attempt < 20 && error.addressInUse {
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    static func lines<T: Decodable>(_ path: String, as type: T.Type) throws -> [T] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        // The peers append while we poll: a last line without its "\n" is still being written
        // (seen once in a loaded full suite as "not valid JSON"); it is read on the next poll.
        var complete = text.split(separator: "\n", omittingEmptySubsequences: false)
        complete.removeLast()   // "" after the final "\n", or the line in progress
        return try complete.filter { !$0.isEmpty }.map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    /// Committed entries in a spool directory's `queue/` (dot files are writes in progress).
    static func entries(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }
    }

    @Test func killNineDuringDeliveryLosesNoAcknowledgedMessage() async throws {
        let python = try await offThePool { try SinkPython.interpreter.get() }.path
        let sabotage = ProcessInfo.processInfo.environment["MAILNODE_OUTBOUND_CRASH_SABOTAGE"] == "1"
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-outcrash-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch + "/zones", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Self.zone().write(toFile: scratch + "/zones/crash.zone", atomically: true, encoding: .utf8)
        let spool = scratch + "/spool"
        let queue = spool + "/queue"
        let events = scratch + "/attempts.jsonl"
        let arrivals = scratch + "/arrivals.jsonl"
        let scripts = DNSFixtures.root.appendingPathComponent("Tests/interop").path

        try await withDNSTestServer(zones: URL(fileURLWithPath: scratch + "/zones")) { dns in
            // The sink: every domain's mail exchanger. A port picked early can be taken by a
            // parallel test before the sink binds it: then another one.
            var sink: Child?
            var sinkPort = 0
            for attempt in 1...3 {
                sinkPort = try await Self.portBelowEphemeralRange()
                let directory = scratch + "/sink\(attempt)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let candidate = try Child(python, [scripts + "/crash_sink.py", "--port", String(sinkPort), "--dir", directory, "--log", arrivals,
                                                  "--delay", String(Self.sinkDelay)],
                                          output: scratch + "/sink\(attempt).log")
                let ready = await candidate.waitFor(timeout: .seconds(60)) { _ in
                    FileManager.default.fileExists(atPath: directory + "/.ready") ? true : nil
                }
                if ready == true, candidate.isRunning { sink = candidate; break }
                candidate.signal(SIGKILL)
                try #require(attempt < 3, "the sink did not start:\n\(candidate.output)")
            }
            let theSink = try #require(sink)
            defer { theSink.signal(SIGKILL) }

            // The node, on a port it keeps for all its restarts.
            var port = 0
            var config = ""
            var first: Child?
            for attempt in 1...5 {
                port = try await Self.portBelowEphemeralRange()
                config = scratch + "/outbound.toml"
                try Self.configuration(spool: spool, dnsPort: dns.port, port: port, sinkPort: sinkPort)
                    .write(toFile: config, atomically: true, encoding: .utf8)
                do {
                    first = try await Self.startNode(config: config, scratch: scratch, number: 0)
                    break
                } catch let error as StartFailure where attempt < 5 && error.addressInUse {
                    continue
                }
            }
            var node = try #require(first)
            var logs: [String] = []
            defer { node.signal(SIGKILL) }
            let started = ContinuousClock.now

            let load = try Child(python, [
                scripts + "/crash_load.py", "--port", String(port), "--count", String(Self.messages),
                "--concurrency", String(Self.loadConcurrency), "--rate", "100", "--events", events, "--deadline", "75",
                "--rcpt-domains", Self.domains.joined(separator: ","),
            ], output: scratch + "/load.log")
            defer { load.signal(SIGKILL) }

            // Kill -9 while deliveries are under way (something is queued), restart on the spool.
            var killLog: [String] = []
            var killsWithQueue = 0
            var sabotaged: String?
            for kill in 1...Self.kills {
                // Kill k once k/(kills+1) of the messages are acknowledged (so every kill falls
                // inside the load, however fast this box is today), a little later at random,
                // and only while something is queued. 60 s: hang detectors, not timing bounds.
                let threshold = kill * Self.messages / (Self.kills + 1)
                let progressDeadline = ContinuousClock.now + .seconds(60)
                while (try Self.lines(events, as: Attempt.self)).filter({ $0.outcome == "acked" }).count < threshold,
                      load.isRunning, ContinuousClock.now < progressDeadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...150)))
                let queuedDeadline = ContinuousClock.now + .seconds(60)
                while Self.entries(queue).isEmpty, load.isRunning, ContinuousClock.now < queuedDeadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                let queuedAtKill = Self.entries(queue).count
                if queuedAtKill > 0 { killsWithQueue += 1 }
                node.signal(SIGKILL)
                #expect(await node.waitForExit(timeout: .seconds(10)), "kill -9 did not end mailnode")
                logs.append(node.output)
                let acked = (try Self.lines(events, as: Attempt.self)).filter { $0.outcome == "acked" }
                let arrived = (try Self.lines(arrivals, as: Arrival.self)).count
                killLog.append("kill \(kill) at \(ContinuousClock.now - started): \(acked.count) acked, \(arrived) arrived, "
                               + "\(queuedAtKill) queued, load \(load.isRunning ? "running" : "finished")")
                if sabotage, sabotaged == nil {
                    // The node is down: an acknowledged entry that has not arrived can only be lost now.
                    let delivered = Set((try Self.lines(arrivals, as: Arrival.self)).compactMap(\.spool_id))
                    let waiting = acked.compactMap(\.queue_id).filter { !delivered.contains($0) }
                    if let victim = waiting.first(where: { FileManager.default.fileExists(atPath: queue + "/" + $0) }) {
                        try FileManager.default.removeItem(atPath: queue + "/" + victim)
                        try? FileManager.default.removeItem(atPath: spool + "/state/" + victim)
                        sabotaged = victim
                        killLog.append("sabotage: deleted queue/\(victim)")
                    }
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...300)))
                node = try await Self.restart(config: config, scratch: scratch, number: kill)
            }

            // The load finishes against the last node, which then drains its queue.
            #expect(await load.waitForExit(timeout: .seconds(90)), "the load did not finish:\n\(load.output)")
            #expect(load.status == 0, "not every message got a 250:\n\(load.output)")
            let drainDeadline = ContinuousClock.now + .seconds(60)
            while !Self.entries(queue).isEmpty, ContinuousClock.now < drainDeadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let left = Self.entries(queue).count
            #expect(left == 0, "the queue did not drain within 60 s: \(left) entries left\n\(node.output)")
            node.signal(SIGTERM)
            #expect(await node.waitForExit(timeout: .seconds(20)), "mailnode did not stop on SIGTERM")
            #expect(node.status == 0, "\(node.output)")
            logs.append(node.output)
            theSink.signal(SIGTERM)
            _ = await theSink.waitForExit(timeout: .seconds(5))
            let elapsed = ContinuousClock.now - started

            let attempts = try Self.lines(events, as: Attempt.self)
            let received = try Self.lines(arrivals, as: Arrival.self)
            let acked = attempts.filter { $0.outcome == "acked" }
            let ambiguous = attempts.filter { $0.outcome == "ambiguous" }
            #expect(acked.allSatisfy { $0.queue_id != nil }, "a 250 without 'Queued as <id>'")
            let ackedMids = Set(acked.map(\.mid))
            #expect(ackedMids.count == Self.messages, "\(ackedMids.count) of \(Self.messages) messages acknowledged")

            // Lost: an acknowledged queue entry whose message never reached the sink.
            let byEntry = Dictionary(grouping: received, by: { $0.spool_id ?? "?" })
            let missing = acked.filter { byEntry[$0.queue_id ?? ""] == nil }
            let arrivedMids = Set(received.compactMap(\.mid))
            let missingMids = ackedMids.subtracting(arrivedMids)
            let missingText = missing.prefix(10).map { "\($0.mid) attempt \($0.attempt) queue id \($0.queue_id ?? "?")" }
            #expect(missing.isEmpty, "\(missing.count) acknowledged messages never arrived: \(missingText)")
            #expect(missingMids.isEmpty, "Message-IDs acknowledged but absent: \(missingMids.sorted().prefix(10))")
            // Nothing may arrive that no attempt could have committed, nor at a domain it was not for.
            func key(_ mid: String?, _ attempt: String?) -> String { "\(mid ?? "?")#\(attempt ?? "?")" }
            let sent = Set((acked + ambiguous).map { key($0.mid, String($0.attempt)) })
            let unexplained = received.filter { !sent.contains(key($0.mid, $0.attempt)) }
            #expect(unexplained.isEmpty, "\(unexplained.count) arrivals match no attempt that sent its data (bounces?): \(unexplained.prefix(5))")
            let misrouted = received.filter { arrival in
                guard let rcpt = arrival.rcpt, rcpt.count == 1, let domain = rcpt[0].split(separator: "@").last else { return true }
                return !Self.domains.contains(String(domain))
            }
            #expect(misrouted.isEmpty, "arrivals not for exactly one of the zone's domains: \(misrouted.prefix(5))")

            // Duplicates, two kinds. (1) The same queue entry delivered twice: the node died after
            // the sink's 250 and before it removed the entry, so the restarted node sends it again
            // (at-least-once, docs/spool.md). Only an entry in flight at the kill can be, and the
            // runner has at most `deliveriesInFlight` attempts at once: ≤ kills × 20.
            // (2) One Message-ID through two entries: the node committed an entry but died before
            // the load read its 250 ("ambiguous"), the load sent the message again and both entries
            // were delivered. At most one per ambiguous attempt, and each load session has at most
            // one hand-off open at a kill: ≤ kills × loadConcurrency.
            let sameEntryTwice = byEntry.values.reduce(0) { $0 + max(0, $1.count - 1) }
            let entriesPerMid = Dictionary(grouping: received, by: { $0.mid ?? "?" }).mapValues { Set($0.compactMap(\.spool_id)).count }
            let viaSecondEntry = entriesPerMid.values.reduce(0) { $0 + max(0, $1 - 1) }
            let duplicates = received.count - arrivedMids.count
            #expect(sameEntryTwice <= Self.kills * Self.deliveriesInFlight,
                    "\(sameEntryTwice) entries delivered twice: more than \(Self.kills) kills × \(Self.deliveriesInFlight) deliveries in flight")
            #expect(viaSecondEntry <= ambiguous.count && ambiguous.count <= Self.kills * Self.loadConcurrency,
                    "\(viaSecondEntry) Message-IDs via a second entry, \(ambiguous.count) lost 250s")
            #expect(duplicates <= Self.kills * (Self.deliveriesInFlight + Self.loadConcurrency))
            #expect(killsWithQueue == Self.kills, "only \(killsWithQueue) kills fell while messages were queued:\n\(killLog.joined(separator: "\n"))")
            #expect(!sabotage || sabotaged != nil, "sabotage requested, but no entry could be deleted")

            print("""
                outbound kill -9: \(acked.count - missing.count)/\(acked.count) acknowledged arrived \
                (\(Self.messages) messages, \(attempts.count) attempts, \(ambiguous.count) lost their 250 in a kill), \
                \(received.count) arrivals, \(duplicates) duplicates (\(sameEntryTwice) same entry re-sent after a kill, \
                at most \(byEntry.values.map(\.count).max() ?? 0) copies of one entry, \
                \(viaSecondEntry) same Message-ID via a second entry), \(Self.kills) kills (\(killsWithQueue) with messages queued), \
                quarantined \(Self.entries(spool + "/quarantine").count), took \(elapsed)
                """)
            print(killLog.joined(separator: "\n"))
            print("load: \(load.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            if !missing.isEmpty || left > 0 || !unexplained.isEmpty {
                print("--- node logs ---\n" + logs.joined(separator: "\n--- restart ---\n"))
            }
        }
    }
}
