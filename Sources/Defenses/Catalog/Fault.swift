/// One of the 14 faults and threats of Internet e-mail the paper classifies (Maraboli and
/// Vallejos, "A Methodology and Architecture for a Dependable and Secure E-mail Service",
/// §IV, figure 2). The raw value is the name used in `catalog/faults.tsv` and in the catalog.
public enum Fault: String, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Any host may talk SMTP to any other host on port 25 (bots deliver directly).
    case anyToAny = "any-to-any"
    /// The sender's identity (envelope, header, HELO) can be forged.
    case forging
    /// A server relays mail for third parties to third parties.
    case openRelay = "open-relay"
    /// Mail can be sent without any accountable identity.
    case anonymous
    /// The sender decides how large a message is.
    case dataSizeSetBySender = "data-size-set-by-sender"
    /// One message to many recipients multiplies the load.
    case trafficAmplification = "traffic-amplification"
    /// SMTP has no congestion control of its own.
    case noCongestionControl = "no-congestion-control"
    /// Messages and credentials travel in clear text.
    case noPrivacy = "no-privacy"
    /// Unsolicited bulk e-mail.
    case spam
    /// Malicious code in messages.
    case virus
    /// Deception for gain (false identity of a company or person).
    case fraud
    /// Deception to obtain credentials or personal data.
    case phishing
    /// Denial of service by flooding a server (named after the SQL Slammer worm).
    case slammer
    /// Flooding one mailbox with mail.
    case mailBombing = "mail-bombing"

    public var description: String { rawValue }

    /// The paper's wording in Table II ("any to any", "SPAM", ...).
    public var paperName: String {
        switch self {
        case .anyToAny: "any to any"
        case .openRelay: "open relay"
        case .dataSizeSetBySender: "data size set by sender"
        case .trafficAmplification: "traffic amplification"
        case .noCongestionControl: "no congestion control"
        case .noPrivacy: "no privacy"
        case .spam: "SPAM"
        case .mailBombing: "mail bombing"
        default: rawValue
        }
    }

    /// Paper order (Table II rows).
    public static func < (lhs: Fault, rhs: Fault) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
