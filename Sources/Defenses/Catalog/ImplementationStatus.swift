/// How far mailnode realises a catalog entry today (DESIGN.md §4; docs/catalog.md says what
/// each status promises). A status is earned by code on `main`, never by a plan.
public enum ImplementationStatus: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Implemented here and switched on (or always on) through a role's configuration.
    case native
    /// Implemented by driving a real external engine through its protocol (clamd, spamd).
    case engine
    /// Outside a process's reach (firewalls, the operating system, a load balancer).
    case deployment
    /// Implemented and tested in the `Defenses`/`SMTPCore` libraries (usable by embedders and
    /// by `mailnode check`), but no role's configuration can switch it on yet.
    case library
    /// Not implemented.
    case notYet = "not yet"

    public var description: String { rawValue }

    /// Something a node configuration can enable today.
    public var isConfigurable: Bool { self == .native || self == .engine }
}
