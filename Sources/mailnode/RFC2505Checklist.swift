import Defenses
import Roles

/// DM17: the recommendations of [RFC 2505 §2](https://www.rfc-editor.org/rfc/rfc2505#section-2)
/// ("Anti-Spam Recommendations for SMTP MTAs", BCP 30), item by item, as a configuration meets
/// them. `mailnode review` shows the count and the items not met.
struct RFC2505Checklist {
    struct Item {
        /// The RFC's section, e.g. `2.5`.
        var section: String
        var title: String
        /// MUST in the RFC (the others are SHOULD).
        var required: Bool
        var met: Bool
        /// How mailnode meets it, or what is missing.
        var how: String
    }

    let items: [Item]

    init(mx: MXRoleConfiguration) {
        let blocklist = mx.blocklist
        let refusesClients = blocklist.map { !$0.entries.networks.isEmpty || $0.file != nil || $0.checkDynamic } ?? false
        let refusesSenders = blocklist.map { !$0.entries.senders.isEmpty || $0.file != nil } ?? false
        let rateControl = mx.rateLimit != nil || mx.senderVolume != nil || mx.connectionLimit != nil
        items = [
            Item(section: "2.1", title: "restrict unauthorized relaying", required: true, met: true,
                 how: "DM07: only mx.domains accepted"),
            Item(section: "2.2", title: "Received lines to trace the path", required: true, met: true,
                 how: "HELO name and client address in every Received field"),
            Item(section: "2.3", title: "event logs", required: true, met: true, how: "a session id on every log line"),
            Item(section: "2.4", title: "log anti-relay/anti-spam actions", required: false, met: true,
                 how: "every refusal logged with its defense id"),
            Item(section: "2.5", title: "refuse mail by client address", required: false, met: refusesClients,
                 how: refusesClients ? "DM18 client entries" : "add [mx.blocklist] clients or a file"),
            Item(section: "2.6", title: "never refuse MAIL FROM:<>", required: true, met: true,
                 how: "no rule refuses the null sender as such"),
            Item(section: "2.7", title: "refuse by MAIL FROM user or domain", required: false, met: refusesSenders,
                 how: refusesSenders ? "DM18 sender entries" : "add [mx.blocklist] senders or a file"),
            Item(section: "2.8", title: "rate control", required: false, met: rateControl,
                 how: rateControl ? "DM10/DM11/DM34" : "enable [mx.rate] or [mx.sender_rate]"),
            Item(section: "2.9", title: "verify the MAIL FROM domain", required: false,
                 met: mx.dnsDefenses.senderChecks?.checkSenderDomain == true,
                 how: mx.dnsDefenses.senderChecks?.checkSenderDomain == true ? "DM19 sender-domain check"
                     : "enable [mx.sender_checks] sender_domain"),
            Item(section: "2.10", title: "verify the local part", required: false, met: mx.recipientDirectory != nil,
                 how: mx.recipientDirectory != nil ? "DM19 recipient directory" : "add [mx.recipients]"),
            Item(section: "2.11", title: "control VRFY and EXPN", required: false, met: true,
                 how: "MN08: VRFY answers 252 without a lookup, EXPN is refused"),
            Item(section: "2.12", title: "control ETRN", required: false, met: true, how: "ETRN not offered"),
            Item(section: "2.13", title: "different return codes per rule", required: true, met: true,
                 how: "4xx for what may pass (greylisting, rate limits, DNS failures), 5xx for policy refusals"),
        ]
    }

    /// `11 of 13 met (every MUST); not met: 2.9 …, 2.10 …`.
    var summary: String {
        let met = items.filter(\.met)
        let missing = items.filter { !$0.met }
        var text = "RFC 2505: \(met.count) of \(items.count) met" + (items.allSatisfy { $0.met || !$0.required } ? " (every MUST)" : "")
        if !missing.isEmpty {
            text += "; not met: " + missing.map { "\($0.section) \($0.title) (\($0.how))" }.joined(separator: ", ")
        }
        return text
    }

    /// True when every MUST item is met.
    var meetsRequirements: Bool { items.allSatisfy { $0.met || !$0.required } }
}
