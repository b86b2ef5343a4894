import Logging
import SMTPCore

/// The mx role's filter for header fields only mailnode's own stages may write: a message from
/// the Internet must not arrive with them, or a later stage (or the reader) would take the
/// sender's word for what one of our stages decided.
///
/// Removed from every client outside ``trustedNetworks`` (`mx.trusted_upstreams`):
/// - `Mailnode-Id` (the hand-off id, MN06 — the ``SpoolReceiver`` replaces it for untrusted
///   clients already; this filter says the same at the mx, whatever the listener's trust table),
/// - every field whose name starts with `X-Mailnode-` (reserved for our stages' verdicts).
///
/// Other fields our stages write are handled where they are written: `Authentication-Results`
/// claiming our authserv-id by ``MessageAuthentication``, `X-Virus-Scanned` by the antivirus
/// stage (which removes any such field before adding its own). Inspections still see the message
/// as it arrived. Each removed field is logged at info level (`defense=MN06`, `field=`); the
/// receiver logs how many fields went per message.
public struct InternalHeaderFilter: MessageInspector {
    /// Names removed whatever follows (lower case).
    public static let names: Set<String> = [MessageASCII.lowercased(MailnodeIDHeader.fieldName)]
    /// Prefixes of removed names (lower case).
    public static let prefixes = ["x-mailnode-"]

    public static let id = DefenseID.handOffDeduplication

    /// Clients whose fields are kept (upstream stages).
    public let trustedNetworks: [IPNetwork]
    let logger: Logger

    public init(trustedNetworks: [IPNetwork] = [], logger: Logger = Logger(label: "mailnode.defense.internal-headers")) {
        self.trustedNetworks = trustedNetworks
        self.logger = logger
    }

    /// Whether `name` is one of the internal fields.
    public static func isInternal(_ name: String) -> Bool {
        let lower = MessageASCII.lowercased(name)
        return names.contains(lower) || prefixes.contains { lower.hasPrefix($0) }
    }

    /// Nothing to inspect: the work is in ``removesField(name:value:session:)``.
    public func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? { nil }

    public func removesField(name: String, value: String, session: SessionContext) -> Bool {
        guard Self.isInternal(name),
              !DefenseHookSupport.isExempt(session, authenticated: false, trusted: trustedNetworks) else { return false }
        logger.info("internal header field removed", metadata: [
            "defense": "\(Self.id)", "session": "\(session.sessionID)", "field": "\(name.prefix(78))",
        ])
        return true
    }
}
