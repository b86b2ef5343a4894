/// The defense catalog: the paper's 36 mechanisms and mailnode's additions, as immutable data
/// (DESIGN.md §4). `mailnode catalog` prints it; `mailnode review` judges a configuration
/// against it; the tests hold it to `catalog/defenses.tsv` and `catalog/faults.tsv`.
///
/// Paper: M. Maraboli, R. Vallejos, "A Methodology and Architecture for a Dependable and Secure
/// E-mail Service" (Table I: locations; Table II: faults covered). Statuses describe `main`
/// today and are changed in the same commit as the code that earns them.
public enum DefenseCatalog {
    /// DM01–DM36 followed by MN01…, in id order.
    public static let all: [CatalogEntry] = paper + additions

    /// The entry with `id`, if the catalog has one.
    public static func entry(_ id: DefenseID) -> CatalogEntry? {
        all.first { $0.id == id }
    }

    /// The entries a role runs by default.
    public static func entries(for role: MailnodeRole) -> [CatalogEntry] {
        all.filter { $0.roles.contains(role) }
    }

    /// Ids of every entry a configuration can switch on today (``ImplementationStatus/isConfigurable``):
    /// "all of mailnode" in `mailnode review`'s fault table.
    public static var configurableIDs: Set<DefenseID> {
        Set(all.filter { $0.status.isConfigurable }.map(\.id))
    }
}
