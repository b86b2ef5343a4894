/// Where a stage's SMTP client may connect (issue 9's egress rule; DESIGN.md: only the outbound
/// stage talks to the Internet).
///
/// Every stage but outbound forwards to the hops of its routing table and nowhere else: a
/// destination that is not one of them (a bug, or a recipient resolver set by mistake) is
/// refused before any connection, logged as an error, and the recipients stay queued
/// (`451 4.3.5`, "system incorrectly configured", RFC 3463 §3.4) — nothing is lost, and nothing
/// leaves by a path the operator did not configure.
public enum EgressRule: String, Sendable, Hashable, CaseIterable {
    /// Only ``RoutingTable`` hops (the default: mx, submission, antivirus, store).
    case configuredHops = "configured-hops"
    /// Also the recipients' mail exchangers from ``SpoolRunnerConfiguration/destinations`` (the
    /// outbound stage).
    case mailExchangers = "mail-exchangers"

    /// The synthesised reply for a refused destination.
    public static let refusedReply = Reply(.localError, EnhancedStatusCode(4, 3, 5),
                                           "Destination is not a configured next hop of this stage")

    /// Whether a delivery to `hop` is allowed under this rule and `routing`; `fromResolver`
    /// says the hop was named by the destination resolver rather than by the routing table.
    public func allows(_ hop: NextHop, routing: RoutingTable, fromResolver: Bool) -> Bool {
        if fromResolver { return self == .mailExchangers }
        return hop == routing.defaultHop || routing.routes.values.contains(hop)
    }
}
