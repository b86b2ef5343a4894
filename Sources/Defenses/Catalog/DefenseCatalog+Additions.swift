extension DefenseCatalog {
    /// mailnode's additions beyond the paper (DESIGN.md §4: its anchors are from 2007). Their
    /// fault mappings are ours (``FaultMappingSource/mailnode``); an entry that protects a
    /// property the 14 faults do not name (e.g. exactly-once hand-off) maps to no fault.
    public static let additions: [CatalogEntry] = [
        CatalogEntry(
            .smugglingDefense, "SMTP smuggling defence (bare CR/LF policy)",
            stages: [.a, .b], faults: [.init(.forging, .mitigates)], source: .mailnode,
            roles: [.mx, .submission], status: .native,
            note: "Only CRLF.CRLF ends DATA; a message with a bare CR or LF is refused with 554 5.5.2 "
                + "(reject, the default), rewritten (normalize) or passed on (accept).",
            keys: ["mx.bare_line_endings"], references: ["RFC 5321 §2.3.8", "RFC 5321 §4.1.1.4", "CVE-2023-51764"]),
        CatalogEntry(
            .startTLSInjectionDefense, "STARTTLS command-injection defence",
            stages: [.a, .b], faults: [.init(.noPrivacy, .mitigates)], source: .mailnode,
            roles: [.mx, .submission], status: .native,
            note: "Plaintext pipelined behind STARTTLS is dropped before TLS starts; always on where "
                + "STARTTLS is offered.",
            keys: ["tls.certificate", "tls.key"], references: ["RFC 3207 §4", "CVE-2011-0411"]),
        CatalogEntry(
            .proxyProtocol, "PROXY protocol from trusted load balancers",
            stages: [.a, .b], faults: [], source: .mailnode,
            roles: [.mx, .submission], status: .native,
            note: "PROXY v1/v2 accepted only from the configured networks (others are disconnected), "
                + "so per-client defences see the real client behind a load balancer (DM25).",
            keys: ["mx.proxy_protocol_trusted"], references: ["HAProxy PROXY protocol v1/v2"]),
        CatalogEntry(
            .dmarc, "DMARC",
            stages: [.a], faults: [.init(.forging, .mitigates), .init(.phishing, .mitigates), .init(.fraud, .mitigates)],
            source: .mailnode, roles: [.mx], status: .native,
            note: "The mx role's message stage (`[mx.authentication]`): policy discovery via a compiled-in "
                + "Public Suffix List, relaxed/strict alignment with the session's SPF and the DKIM results, "
                + "p/sp/np/pct; p=reject → 550 5.7.1 before the 250 (`on_reject`), p=quarantine tagged in "
                + "Authentication-Results (`policy.dmarc=quarantine`), DNS trouble never a 5xx; a trusted "
                + "ARC sealer's cv=pass overrides a fail. Aggregate reports are recorded by the library "
                + "(`mailnode check dmarc`) but not yet collected or sent (issue 5).",
            keys: ["mx.authentication.dmarc", "mx.authentication.on_reject", "mx.authentication.on_quarantine",
                   "mx.authentication.on_temperror", "mx.authentication.trusted_arc_sealers"],
            references: ["RFC 7489", "RFC 9091", "RFC 8601"]),
        CatalogEntry(
            .roleEnforcedEgress, "Role-enforced egress",
            stages: [.a, .b, .c, .d, .f, .g], faults: [.init(.anyToAny, .mitigates)], source: .mailnode,
            roles: [.mx, .submission, .antivirus, .antispam, .outbound, .store], status: .native,
            note: "Enforced by the spool runner's client (EgressRule): a node connects only to the hops "
                + "of its routing table; only the outbound role may connect to the mail exchangers it "
                + "looks up. Anything else is refused, logged and deferred (451 4.3.5). Stage "
                + "authentication (mutual TLS, stage stamps) is not yet.",
            keys: ["hops.NAME.address", "routes.\"DOMAIN\""], references: ["DESIGN.md §3.4"]),
        CatalogEntry(
            .handOffDeduplication, "Hand-off deduplication (Mailnode-Id)",
            stages: [.a, .c, .d, .f, .g], faults: [], source: .mailnode,
            roles: [.mx, .antivirus, .antispam, .outbound, .store], status: .native,
            note: "A retried hand-off from a trusted upstream stage is answered 250 without storing "
                + "it twice; other clients' Mailnode-Id headers are replaced (the store, the last stage, "
                + "ignores them; its pairs are kept in the delivery's own transaction). Until the later "
                + "roles exist, a later stage is an mx listener with trusted upstreams.",
            keys: ["mx.trusted_upstreams", "store.trusted_upstreams", "dedup.retention", "dedup.max_entries"],
            references: ["docs/spool.md", "docs/store.md"]),
        CatalogEntry(
            .sessionLimits, "Session limits (timeouts, duration, errors)",
            stages: [.a, .b], faults: [.init(.noCongestionControl, .mitigates), .init(.slammer, .mitigates)], source: .mailnode,
            roles: [.mx, .submission], status: .native,
            note: "Idle command and data timeouts, a whole-session limit, 421 after too many errors or "
                + "commands, line-length limits, back-pressure on pipelined input.",
            keys: ["mx.command_timeout", "mx.data_timeout", "mx.max_session_duration", "mx.max_errors"],
            references: ["RFC 5321 §4.5.3.2"]),
        CatalogEntry(
            .noDisclosure, "Nothing revealed on the wire",
            stages: [.a, .b], faults: [], source: .mailnode,
            roles: [.mx, .submission], status: .native,
            note: "The greeting names the host, not the software; VRFY answers 252 without "
                + "verifying, EXPN 502; the log has the details. Always on.",
            references: ["RFC 5321 §3.5.3", "RFC 2505 §2.8"]),
        CatalogEntry(
            .authenticatedDeliveryTLS, "MTA-STS and DANE for outgoing mail",
            stages: [.f], faults: [.init(.noPrivacy, .mitigates)], source: .mailnode,
            roles: [.outbound], status: .native,
            note: "MTA-STS (RFC 8461) on by default in the outbound role (`outbound.mta_sts`): policies fetched over "
                + "verified HTTPS, cached for max_age across restarts; under enforce only the listed MX hosts, with a "
                + "verified certificate, else deferred. DANE (RFC 7672, `outbound.dane`, on by default): an MX "
                + "whose MX, address and TLSA records the resolver validated (trusted AD bit: a validating resolver on "
                + "loopback) must match a DANE-EE or DANE-TA record, else deferred; without a validating resolver "
                + "DANE never applies. Per-domain `[outbound.tls_policy]` (none/may/encrypt/verify/dane/dane-only) "
                + "beside them.",
            keys: ["outbound.mta_sts", "outbound.dane", "outbound.tls_policy.\"DOMAIN\"", "tls.ca_file"], references: ["RFC 8461", "RFC 7672"]),
        CatalogEntry(
            .arc, "ARC verification",
            stages: [.a], faults: [.init(.forging, .mitigates)], source: .mailnode,
            roles: [.mx], status: .native,
            note: "The mx role's message stage (`[mx.authentication]`) validates the chain (cv=none/pass/fail "
                + "with the oldest passing instance, cross-checked with dkimpy), writes `arc=` into its "
                + "Authentication-Results field, and lets `trusted_arc_sealers` override a DMARC fail. The "
                + "body is held for ARC up to `max_arc_body`. Sealing for forwarding roles: not yet.",
            keys: ["mx.authentication.arc", "mx.authentication.trusted_arc_sealers", "mx.authentication.max_arc_body"],
            references: ["RFC 8617"]),
    ]
}
