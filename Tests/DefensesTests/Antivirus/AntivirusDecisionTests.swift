import SMTPCore
import Testing

@testable import Defenses

@Suite("antivirus decisions")
struct AntivirusDecisionTests {
    static let base = AntivirusConfiguration(scanner: nil)

    static func decide(_ scan: ScanResult?, policy: ScanFailurePolicy = .tempfail) -> AntivirusDecision {
        var configuration = base
        configuration.failurePolicy = policy
        return AntivirusDecision.decide(walk: .success(()), attachment: nil,
                                        scan: scan.map { ScanOutcome(result: $0, scanner: "127.0.0.1:3310") },
                                        configuration: configuration)
    }

    @Test func verdictsToReplies() {
        #expect(Self.decide(.clean) == .accept(headerValue: "clean (ClamAV) by mailnode; attachments=checked"))
        guard case .refuse(let reply, let reason, let defense) = Self.decide(.infected(signature: "Win.Test.EICAR_HDB-1")) else {
            Issue.record("a virus was not refused")
            return
        }
        #expect(reply.description == "554 5.7.0 Message content rejected")
        #expect(!reply.text.contains("EICAR"), "the wire names no signature")
        #expect(reason.contains("Win.Test.EICAR_HDB-1") && reason.contains("127.0.0.1:3310"), "the log names signature and scanner")
        #expect(defense == .antivirus)

        let down = ScanResult.error(.connectFailed(endpoint: "127.0.0.1:3310", reason: "refused"))
        guard case .refuse(let tempfail, _, _) = Self.decide(down) else {
            Issue.record("no scanner and no tempfail")
            return
        }
        #expect(tempfail.description == "451 4.3.0 Message could not be checked, try again later")
        #expect(Self.decide(down, policy: .passWithHeader)
            == .accept(headerValue: "unscanned (scanner unavailable) by mailnode; attachments=checked"))
        guard case .refuse(let tooBig, _, _) = Self.decide(.error(.sizeLimitExceeded(limit: nil))) else {
            Issue.record("size limit passed")
            return
        }
        #expect(tooBig.description == "552 5.3.4 Message too big for content checks")
        // Without a scanner the header says so.
        #expect(Self.decide(nil) == .accept(headerValue: "unscanned (no scanner configured) by mailnode; attachments=checked"))
    }

    @Test func walkAndAttachmentComeFirst() {
        let bomb = AntivirusDecision.decide(walk: .failure(.tooManyParts(limit: 1000)), attachment: nil,
                                            scan: ScanOutcome(result: .clean), configuration: Self.base)
        guard case .refuse(let reply, let reason, _) = bomb else {
            Issue.record("a MIME bomb passed")
            return
        }
        #expect(reply.code == .transactionFailed)
        #expect(reason.contains("more than 1000 MIME parts"))
        let blocked = AttachmentVerdict(part: "1.2", filename: "a.exe", reason: .extension("exe"))
        guard case .refuse(_, let why, _) = AntivirusDecision.decide(walk: .success(()), attachment: blocked,
                                                                     scan: ScanOutcome(result: .clean), configuration: Self.base) else {
            Issue.record("a blocked attachment passed")
            return
        }
        #expect(why.contains("\"a.exe\""))
    }
}
