import Defenses

/// What `mailnode review` finds for one catalog entry in one role of a configuration.
enum ReviewState: String, CaseIterable {
    /// The configuration switches it on (or it is always on in this role).
    case enabled
    /// mailnode can do it in this role, but this configuration leaves it off.
    case disabled
    /// The entry does not belong to this role (the catalog's default roles).
    case notApplicable = "not applicable"
    /// It belongs here, but this build cannot switch it on (status `library` or `not yet`).
    case notAvailable = "not available"
    /// Outside any process: the perimeter, the operating system, a load balancer.
    case deployment
}

/// One row of a role's review.
struct ReviewItem {
    var id: DefenseID
    var state: ReviewState
    /// The configured values behind the state, or why it is off or missing.
    var detail: String
}

/// A role of the architecture as this configuration has it.
struct RoleReview {
    var role: MailnodeRole
    /// The configuration has a table for it (`[mx]`).
    var configured: Bool
    /// This build can run it (`MailNode.availableRoles`).
    var built: Bool
    /// Every catalog entry, in catalog order; empty for roles not configured.
    var items: [ReviewItem]
}

/// One fault: what this configuration covers, what all of mailnode could, what the paper's
/// EA 2006 deployed (Table II's columns, "2002 vs 2006" become "this config vs all available").
struct FaultReview {
    var fault: Fault
    var thisConfiguration: FaultCoverageEntry
    var allAvailable: FaultCoverageEntry
    var paper2006: FaultCoverageEntry
}

/// Step 1 of the paper's methodology (§II, "Review") for one node configuration.
struct NodeReview {
    /// The file reviewed, or a description of the generated default.
    var source: String
    var hostname: String
    var roles: [RoleReview]
    var faults: [FaultReview]

    /// Ids enabled in at least one configured role.
    var enabledIDs: Set<DefenseID> {
        Set(roles.flatMap { $0.items.filter { $0.state == .enabled }.map(\.id) })
    }
}
