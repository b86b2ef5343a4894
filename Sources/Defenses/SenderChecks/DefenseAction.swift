import NIOCore
import SMTPCore

/// What a role's policy does with a defense's verdict (DESIGN "the verdict is separate from the
/// action"; maddy's `FailAction`).
public enum DefenseAction: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Refuse the command with the defense's generic 5xx reply.
    case reject
    /// Refuse it for now with a 4xx reply: the client retries later.
    case tempfail
    /// Let it pass and log the verdict at notice level (header tagging comes with the message stage).
    case tag
    /// Let it pass; the verdict is logged at debug level only.
    case ignore

    public var description: String { rawValue }

    /// The action for a verdict that rests on a temporary DNS failure: never a permanent
    /// rejection (`reject` becomes `tempfail`), so a broken resolver cannot bounce mail.
    public var forTemporaryFailure: DefenseAction {
        self == .reject ? .tempfail : self
    }

    /// The hook decision: `reject`/`tempfail` answer with the given reply, when its class fits
    /// (a 5xx for reject, a 4xx for tempfail); otherwise with the fallback replies.
    func decision(reject: Reply, tempfail: Reply) -> HookDecision {
        switch self {
        case .reject: .reply(reject.code.isPermanentFailure ? reject : tempfail)
        case .tempfail: .reply(tempfail.code.isTransientFailure ? tempfail : DefenseReplies.temporaryDNSFailure)
        case .tag, .ignore: .continue
        }
    }
}

/// Replies shared by the DNS-based defenses: generic words, no list TXT, no internal detail
/// (DESIGN §3.5).
public enum DefenseReplies {
    /// `451 4.4.3 Temporary DNS failure, try again later`
    /// ([RFC 3463 §3.5](https://www.rfc-editor.org/rfc/rfc3463#section-3.5) X.4.3 "directory
    /// server failure").
    public static let temporaryDNSFailure = Reply(.localError, EnhancedStatusCode(4, 4, 3), "Temporary DNS failure, try again later")
}

/// Small helpers the hook adapters share.
enum DefenseHookSupport {
    /// The client address of a session as an ``IPAddress`` (IPv4-mapped IPv6 stays IPv6 here;
    /// the checks unmap it).
    static func clientIP(_ session: SessionContext) -> IPAddress? {
        guard let address = session.remoteAddress, let bytes = IPNetwork.bytes(of: address) else { return nil }
        if let v4 = IPv4Address(octets: bytes) { return .v4(v4) }
        if let v6 = IPv6Address(octets: bytes) { return .v6(v6) }
        return nil
    }

    /// Whether the session is exempt: authenticated (when exempted) or from a trusted network.
    static func isExempt(_ session: SessionContext, authenticated: Bool, trusted: [IPNetwork]) -> Bool {
        if authenticated, session.authenticatedUser != nil { return true }
        guard let address = session.remoteAddress else { return false }
        return trusted.contains { $0.contains(address) }
    }
}
