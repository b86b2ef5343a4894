/// One defense mechanism in the catalog: the paper's DM01–DM36 or one of mailnode's
/// additions (MN01…), with where it belongs, what it addresses and what mailnode does about it.
public struct CatalogEntry: Hashable, Sendable, Identifiable {
    /// `DM01`–`DM36` (the paper's numbering, §VII and Table I) or `MN01`… (ours).
    public var id: DefenseID
    public var name: String
    /// Table I's location; for additions, the stages where they act.
    public var stages: [PaperStage]
    /// Faults addressed (Table II, or inferred, or ours: see ``faultSource``).
    public var faults: [FaultMapping]
    public var faultSource: FaultMappingSource
    /// Roles that run the mechanism by default (empty: it lives outside mailnode's roles).
    public var roles: [MailnodeRole]
    public var status: ImplementationStatus
    /// What exists and what is missing, in one or two sentences.
    public var statusNote: String
    /// Configuration keys that control it (docs/configuration.md); only keys the configuration
    /// reader accepts today.
    public var configurationKeys: [String]
    /// Standards and papers the mechanism rests on (`RFC 5321 §4.5.3.1.8`, ...).
    public var references: [String]

    public init(_ id: DefenseID, _ name: String, stages: [PaperStage], faults: [FaultMapping],
                source: FaultMappingSource, roles: [MailnodeRole], status: ImplementationStatus, note: String,
                keys: [String] = [], references: [String] = []) {
        self.id = id
        self.name = name
        self.stages = stages
        self.faults = faults
        self.faultSource = source
        self.roles = roles
        self.status = status
        self.statusNote = note
        self.configurationKeys = keys
        self.references = references
    }

    /// True for the paper's DM01–DM36.
    public var isFromPaper: Bool { id.rawValue.hasPrefix("DM") }

    /// How this entry affects `fault`, if at all.
    public func effect(on fault: Fault) -> FaultEffect? {
        faults.first { $0.fault == fault }?.effect
    }
}
