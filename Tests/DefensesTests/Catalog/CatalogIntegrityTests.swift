import Defenses
import Foundation
import Testing

/// The catalog's own rules: ids, statuses that promise no more than the configuration offers,
/// configuration keys that exist.
@Suite struct CatalogIntegrityTests {
    @Test func idsAreUniqueAndNumberedInOrder() {
        #expect(DefenseCatalog.paper.map(\.id) == (1...36).map(DefenseID.paper))
        #expect(DefenseCatalog.additions.map(\.id) == (1...DefenseCatalog.additions.count).map(DefenseID.mailnode))
        #expect(Set(DefenseCatalog.all.map(\.id)).count == DefenseCatalog.all.count)
        #expect(DefenseCatalog.all.map(\.id) == DefenseCatalog.all.map(\.id).sorted())
        #expect(DefenseID.paper(7) == .relayAccessLists && DefenseID.mailnode(4) == .dmarc)
        #expect(DefenseCatalog.additions.allSatisfy { $0.faultSource == .mailnode && !$0.isFromPaper })
    }

    /// A native entry names the keys that control it or says it is always on; only native and
    /// engine entries name keys at all; deployment entries belong to no role.
    @Test func statusesAreBackedByConfiguration() {
        for entry in DefenseCatalog.all {
            switch entry.status {
            case .native, .engine:
                #expect(!entry.configurationKeys.isEmpty || entry.statusNote.lowercased().contains("always on"), "\(entry.id)")
                #expect(!entry.roles.isEmpty, "\(entry.id)")
            case .deployment:
                #expect(entry.roles.isEmpty, "\(entry.id)")
                #expect(entry.configurationKeys.isEmpty, "\(entry.id)")
            case .library, .notYet:
                #expect(entry.configurationKeys.isEmpty, "\(entry.id) names keys but no configuration enables it")
            }
            #expect(!entry.statusNote.isEmpty, "\(entry.id)")
        }
    }

    /// Every key the catalog names is documented in docs/configuration.md's key table (which the
    /// configuration reader's tests keep honest).
    @Test func configurationKeysExist() throws {
        let docs = try String(contentsOf: DNSFixtures.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let documented = Set(docs.split(separator: "\n").filter { $0.hasPrefix("| `") }.compactMap { line -> String? in
            let cell = line.dropFirst(3)
            return cell.firstIndex(of: "`").map { String(cell[..<$0]) }
        })
        #expect(documented.contains("mx.domains"))
        for entry in DefenseCatalog.all {
            for key in entry.configurationKeys {
                #expect(documented.contains(key), "\(entry.id): \(key) is not in docs/configuration.md")
            }
        }
    }

    @Test func paperStagesMapToRoles() {
        #expect(PaperStage.a.role == .mx && PaperStage.f.role == .outbound && PaperStage.mua.role == nil)
        #expect(MailnodeRole.allCases.allSatisfy { $0.paperStage.role == $0 })
        #expect(PaperStage.notation([.mua, .g, .a, .b, .c, .d, .e, .f]) == "A-G,MUA")
        #expect(PaperStage.notation([.perimeter]) == "network perimeter")
    }

    @Test func coverageRanksSolvedAboveMitigated() {
        #expect(DefenseCatalog.coverage(of: []).allSatisfy { $0.coverage == .uncovered && $0.defenses.isEmpty })
        let coverage = DefenseCatalog.coverage(of: [.maxMessageSize, .clientConnectionLimit, .relayAccessLists, .rfc2505])
        let byFault = Dictionary(uniqueKeysWithValues: coverage.map { ($0.fault, $0) })
        #expect(byFault[.openRelay]?.coverage == .solved)
        #expect(byFault[.openRelay]?.defenses == [.relayAccessLists, .rfc2505])
        #expect(byFault[.dataSizeSetBySender]?.summary == "mitigated: DM08, DM10")
        #expect(byFault[.virus]?.summary == "uncovered")
    }
}
