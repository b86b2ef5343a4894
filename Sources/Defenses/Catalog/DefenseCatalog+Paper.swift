extension DefenseCatalog {
    /// DM01–DM36: names, stages and fault mappings as in `catalog/defenses.tsv` (Table I and
    /// Table II of the paper, with inferred mappings marked as such).
    public static let paper: [CatalogEntry] = [
        CatalogEntry(
            .blockPort25, "Block incoming/outgoing SMTP port 25",
            stages: [.perimeter], faults: [.init(.anyToAny, .solves)], source: .tableII(printedAs: nil),
            roles: [], status: .deployment,
            note: "Firewall rules at the perimeter: only mx accepts and only outbound opens port 25. "
                + "No generated rules yet; MN05 keeps the other roles off remote port 25 from inside."),
        CatalogEntry(
            .submissionProtocol, "Submission protocol (RFC 6409; paper cites RFC 2476)",
            stages: [.b], faults: [.init(.forging, .mitigates), .init(.anonymous, .mitigates)], source: .inferred,
            roles: [.submission], status: .native,
            note: "The submission role: STARTTLS listeners (587) and implicit-TLS listeners (465, RFC 8314) with TLS "
                + "and AUTH required before MAIL; the user's own addresses only; everything goes on to the next stage.",
            keys: ["submission.listen", "submission.listen_tls"],
            references: ["RFC 6409", "RFC 8314"]),
        CatalogEntry(
            .internalExternalSplit, "Internal / external MTA split",
            stages: [.a, .b], faults: [.init(.anyToAny, .solves), .init(.forging, .solves)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission], status: .native,
            note: "mx and submission are separate roles (separate processes, listeners, hooks): Internet mail only at "
                + "the mx (AUTH refused there), users only at submission (AUTH required).",
            keys: ["mx.listen", "submission.listen"]),
        CatalogEntry(
            .smtpAuth, "SMTP AUTH",
            stages: [.b],
            faults: [.init(.forging, .solves), .init(.anonymous, .mitigates), .init(.fraud, .solves), .init(.phishing, .solves)],
            source: .tableII(printedAs: nil), roles: [.submission], status: .native,
            note: "The submission role: AUTH PLAIN/LOGIN only over TLS (421 after 3 failures in a session) against the "
                + "user directory (`mailnode users`, yescrypt hashes), lockout per user and per client in the state "
                + "store (454 4.7.0, logged as brute force), the envelope sender must be the user's own address "
                + "(553 5.7.1), and so must every From:/Sender: address of the message (550 5.7.1 at the end of DATA, "
                + "AuthorOwnership). AUTH EXTERNAL with client certificates: DM05. SCRAM is not yet.",
            keys: ["submission.users", "submission.auth_max_failures_per_user", "submission.auth_max_failures_per_client",
                   "submission.auth_window", "submission.allow_null_sender", "submission.check_from", "state.users"],
            references: ["RFC 4954", "RFC 4616"]),
        CatalogEntry(
            .certificates, "Digital certificates - PKI",
            stages: [.b, .e, .g], faults: [.init(.noPrivacy, .mitigates), .init(.forging, .mitigates)], source: .inferred,
            roles: [.submission], status: .native,
            note: "Server certificates for STARTTLS (DM14, tls.certificate). Client certificates on submission "
                + "(submission.client_ca_file): the listeners ask for one during TLS, verify a presented one against "
                + "those CAs (a bad one ends the handshake), and AUTH EXTERNAL logs in the user whose name or alias "
                + "its email SAN (else CN) is — no password. Not yet: client certificates for IMAP/POP3 and webmail, "
                + "S/MIME.",
            keys: ["submission.client_ca_file", "tls.certificate"], references: ["RFC 4422 Appendix A", "RFC 5280 §4.2.1.6"]),
        CatalogEntry(
            .pgp, "PGP",
            stages: [.b, .e, .g], faults: [.init(.noPrivacy, .mitigates), .init(.forging, .mitigates)], source: .inferred,
            roles: [.submission, .webmail, .store], status: .notYet,
            note: "Nothing yet (mostly the users' programs; webmail could offer it).",
            references: ["RFC 9580"]),
        CatalogEntry(
            .relayAccessLists, "Relay access lists",
            stages: [.a, .b], faults: [.init(.openRelay, .solves)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission], status: .native,
            note: "RelayControl on every mx listener: recipients outside mx.domains get 554 5.7.1 at "
                + "RCPT (Postmaster always accepted). Trusted networks and authenticated relay exist "
                + "in the library, without configuration keys yet.",
            keys: ["mx.domains"], references: ["RFC 5321 §3.6.2", "RFC 2505 §2.1"]),
        CatalogEntry(
            .maxMessageSize, "Max. size per email",
            stages: [.a, .b, .e], faults: [.init(.dataSizeSetBySender, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission, .webmail], status: .native,
            note: "SIZE advertised, MAIL FROM SIZE= above it refused, and enforced while streaming: "
                + "552 5.3.4, nothing stored.",
            keys: ["mx.max_message_size"], references: ["RFC 1870", "RFC 5321 §4.5.3.1.7"]),
        CatalogEntry(
            .maxRecipients, "Max. number of recipients per email",
            stages: [.a, .b, .e], faults: [.init(.trafficAmplification, .solves)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission, .webmail], status: .native,
            note: "Soft limit: recipients beyond mx.max_recipients get 452 4.5.3 (the client sends them again later). "
                + "Hard limit (off by default): beyond mx.max_recipients_hard RCPT commands every further one gets "
                + "552 5.5.3 and the message itself 554 5.5.3, as the second seed describes.",
            keys: ["mx.max_recipients", "mx.max_recipients_hard"], references: ["RFC 5321 §4.5.3.1.8", "RFC 5321 §4.5.3.1.10"]),
        CatalogEntry(
            .clientConnectionLimit, "Client connection limit (simultaneous)",
            stages: [.a, .b],
            faults: [.init(.dataSizeSetBySender, .mitigates), .init(.noCongestionControl, .mitigates), .init(.slammer, .mitigates)],
            source: .tableII(printedAs: nil), roles: [.mx, .submission], status: .native,
            note: "At most N simultaneous sessions per client address on each node (default 10); the next is "
                + "greeted with 421 4.7.0 and closed. Counted per node in memory; mx.trusted_upstreams are not counted.",
            keys: ["mx.max_connections_per_client"], references: ["RFC 5321 §3.8", "RFC 3463 X.7.0"]),
        CatalogEntry(
            .clientRateLimit, "Client rate limit (total)",
            stages: [.a, .b],
            faults: [.init(.dataSizeSetBySender, .mitigates), .init(.noCongestionControl, .mitigates), .init(.slammer, .mitigates)],
            source: .tableII(printedAs: nil), roles: [.mx, .submission], status: .native,
            note: "Connections (421 4.7.0), messages and recipients (451 4.7.1) per client address over a sliding "
                + "window, counted in the state store, so nodes sharing PostgreSQL share the limit. Off by default.",
            keys: ["mx.rate.window", "mx.rate.max_connections", "mx.rate.max_messages", "mx.rate.max_recipients", "state.backend"],
            references: ["RFC 5321 §4.2.5"]),
        CatalogEntry(
            .maxServerProcesses, "Max. number of server processes",
            stages: [.a, .b, .c, .d, .f, .g], faults: [.init(.noCongestionControl, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission, .antivirus, .antispam, .outbound, .store], status: .native,
            note: "One process per node, so its counterpart: a node-wide cap on open connections over all "
                + "listeners (default 1000); the next is answered 421 4.3.2 and closed before any hook runs "
                + "(on an implicit-TLS listener closed without a reply). The open-files limit is raised to "
                + "the hard limit at start.",
            keys: ["node.max_connections"], references: ["RFC 5321 §3.8", "RFC 3463 X.3.2"]),
        CatalogEntry(
            .maxConnectionsPerProcess, "Max. number of connections per server process",
            stages: [.a, .b, .c, .d, .f, .g], faults: [.init(.noCongestionControl, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission, .antivirus, .antispam, .outbound, .store], status: .native,
            note: "Each event loop thread stands for a server process: a cap on its open connections, "
                + "answered like DM12. Off by default (new connections go to the loops in turn, so the "
                + "node-wide cap already bounds each loop to about its share).",
            keys: ["node.max_connections_per_loop"], references: ["RFC 5321 §3.8", "RFC 3463 X.3.2"]),
        CatalogEntry(
            .smtpOverTLS, "Secure SMTP over TLS",
            stages: [.b], faults: [.init(.noPrivacy, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission], status: .native,
            note: "STARTTLS offered on every listener when a certificate is configured; AUTH only after "
                + "TLS; REQUIRETLS honoured; STARTTLS towards next hops per hop (hops.NAME.tls).",
            keys: ["tls.certificate", "tls.key", "hops.NAME.tls"], references: ["RFC 3207", "RFC 8314", "RFC 8689"]),
        CatalogEntry(
            .tlsForMailAccess, "SSL for POP, IMAP, webmail HTTPS",
            stages: [.b, .e, .g], faults: [.init(.noPrivacy, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.webmail, .store], status: .native,
            note: "The store role's POP3 and IMAP only over TLS: STLS listeners (110 style) refuse USER, PASS and AUTH "
                + "before TLS and do not offer them in CAPA (RFC 2595); STARTTLS listeners (143 style) announce "
                + "LOGINDISABLED and refuse LOGIN and AUTHENTICATE with NO [PRIVACYREQUIRED] (RFC 9051 §6.2.3); "
                + "implicit-TLS listeners (995, 993, RFC 8314); plaintext pipelined behind STLS/STARTTLS is dropped. "
                + "Webmail HTTPS is not yet.",
            keys: ["store.pop3_listen", "store.pop3s_listen", "store.imap_listen", "store.imaps_listen", "tls.certificate"],
            references: ["RFC 8314", "RFC 2595", "RFC 9051"]),
        CatalogEntry(
            .messageEncryption, "PKI/PGP e-mail message encryption",
            stages: [.b], faults: [.init(.noPrivacy, .mitigates)], source: .inferred,
            roles: [.submission], status: .notYet,
            note: "Nothing yet."),
        CatalogEntry(
            .rfc2505, "RFC 2505 anti-spam recommendations for MTAs",
            stages: [.a, .b], faults: [.init(.spam, .mitigates), .init(.openRelay, .mitigates)], source: .tableII(printedAs: "DM13"),
            roles: [.mx, .submission], status: .native,
            note: "A checklist of RFC 2505 §2.1-2.13 that `review` fills from the configuration: the MUSTs "
                + "(no relay, Received fields, logs, never refusing <>, 4xx vs 5xx) always hold; refusal by client "
                + "and sender (DM18), rate control (DM10/DM11/DM34), the MAIL FROM domain and the local part (DM19) "
                + "as configured.",
            keys: ["mx.domains", "mx.blocklist.clients", "mx.blocklist.senders", "mx.rate.window", "mx.sender_rate.window"],
            references: ["RFC 2505"]),
        CatalogEntry(
            .localBlockLists, "Local domain or IP blacklists",
            stages: [.a], faults: [.init(.spam, .mitigates), .init(.slammer, .mitigates)], source: .inferred,
            roles: [.mx], status: .native,
            note: "LocalBlocklist: client networks (554 5.7.1 greeting, closed), sender addresses/domains/*.domains "
                + "(550 5.7.1 at MAIL) and HELO names (550 5.7.1), from the file and a list file reloaded when it changes; "
                + "dynamic `block:` entries from the state store (DM27) refuse clients at connect on every node "
                + "sharing it. Off by default.",
            keys: ["mx.blocklist.clients", "mx.blocklist.senders", "mx.blocklist.helo", "mx.blocklist.file",
                   "mx.blocklist.reload_interval", "mx.blocklist.dynamic"],
            references: ["RFC 5321 §4.1.4", "Postfix access(5)"]),
        CatalogEntry(
            .mtaRules, "MTA rules: check sender domain, reject unknown recipients (backscatter)",
            stages: [.a, .b], faults: [.init(.spam, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission, .store], status: .native,
            note: "SenderCheckDefense on the mx ([mx.sender_checks], off by default): HELO not an FQDN or naming us "
                + "refused, sender domains that cannot take mail (null MX, nonexistent, no MX/A) refused at MAIL, "
                + "iprev tagged only; DNS failures defer, never refuse. Unknown local recipients ([mx.recipients], "
                + "off by default) get 550 5.1.1 at RCPT from a list of addresses and @domain catch-alls (a reloaded "
                + "file too) — the backscatter defense. The store role refuses addresses its user directory does not "
                + "know (550 5.1.1 at LMTP RCPT, always on); the mx asks a user directory too (mx.recipients.users), "
                + "on by default when the store runs in the same process (--role all, mailnode up), so an added user "
                + "counts at the next RCPT with no list to copy. The submission role checks recipients at its local "
                + "domains (submission.local_domains, default mx.domains) against its user directory, as Postfix's "
                + "reject_unlisted_recipient does on every smtpd.",
            keys: ["mx.sender_checks.helo", "mx.sender_checks.sender_domain", "mx.sender_checks.iprev", "dns.servers",
                   "mx.recipients.addresses", "mx.recipients.file", "mx.recipients.users", "mx.recipients.domains", "store.users",
                   "submission.local_domains"],
            references: ["RFC 5321 §4.1.4", "RFC 7505", "RFC 8601 §3 (iprev)"]),
        CatalogEntry(
            .dnsBlockLists, "DNSBL (centralised blacklists)",
            stages: [.a], faults: [.init(.spam, .mitigates)], source: .inferred,
            roles: [.mx], status: .native,
            note: "DNSListDefense on the mx ([mx.dnsbl], off by default): client, HELO and sender-domain lists with "
                + "weights, answer-code filters and a threshold, allow lists, RFC 5782 health checks; looked up at "
                + "connect without delaying the greeting, refused at RCPT with 550 5.7.1 (Postmaster exempt) or at "
                + "connect/MAIL. A list that does not answer never refuses.",
            keys: ["mx.dnsbl.zones", "mx.dnsbl.threshold", "mx.dnsbl.stage", "mx.dnsbl.on_unknown", "dns.servers"],
            references: ["RFC 5782"]),
        CatalogEntry(
            .allowLists, "User MUA whitelists",
            stages: [.a, .mua], faults: [.init(.spam, .mitigates, note: "fewer false positives")], source: .inferred,
            roles: [.mx], status: .native,
            note: "AllowList: client networks, sender patterns and per-recipient sender lists skip the spam checks "
                + "(DM18, DM27, DM32, DM22) and never relay control, the limits or antivirus. Global and per-user "
                + "lists in the configuration (a list file too); not yet editable by users from their MUA. Off by default.",
            keys: ["mx.allowlist.clients", "mx.allowlist.senders", "mx.allowlist.file", "mx.allowlist.recipients"]),
        CatalogEntry(
            .greylisting, "Greylisting (SPF-pass senders exempt)",
            stages: [.a], faults: [.init(.spam, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx], status: .native,
            note: "451 4.7.1 for a new (client /24 or /64, sender, recipient) triplet until the delay (default 300 s) "
                + "has passed; passed triplets remembered 36 days, a client auto-allowlisted after 5 passes; SPF-pass "
                + "senders exempt (checked over the system resolver). State in the state store. Off by default.",
            keys: ["mx.greylist.enabled", "mx.greylist.delay", "mx.greylist.retry_window", "mx.greylist.pass_lifetime",
                   "mx.greylist.auto_allowlist_after", "mx.greylist.spf_exempt", "state.backend"],
            references: ["RFC 6647", "E. Harris, The Next Step in the Spam Control War: Greylisting (2003)"]),
        CatalogEntry(
            .regularExpressions, "Regular expressions",
            stages: [.a, .b, .d, .mua],
            faults: [.init(.spam, .mitigates), .init(.virus, .mitigates), .init(.phishing, .mitigates)], source: .inferred,
            roles: [.mx, .submission, .antispam], status: .native,
            note: "On the mx ([mx.rules], off by default): case-insensitive patterns on the HELO name, the MAIL FROM "
                + "and each RCPT TO address (EnvelopeRules), and in the message stage on each unfolded header field and "
                + "each body line as the message streams in (ContentRules; bodies scanned up to body_scan_limit, "
                + "default 1 MiB) refuse with 550 5.7.1 (the pattern only in the log), behind the DM21 allow list. "
                + "On submission ([submission.rules]) the header and body rules check the users' own outgoing mail. "
                + "Not in the antispam role yet.",
            keys: ["mx.rules.reject_helo", "mx.rules.reject_sender", "mx.rules.reject_recipient", "mx.rules.reject_header",
                   "mx.rules.reject_body", "mx.rules.body_scan_limit", "submission.rules.reject_header",
                   "submission.rules.reject_body", "submission.rules.body_scan_limit"]),
        CatalogEntry(
            .bayesianFilters, "Bayesian filters",
            stages: [.d, .mua], faults: [.init(.spam, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.antispam], status: .notYet,
            note: "Not yet: native filter and spamd/rspamd engines come with the antispam role."),
        CatalogEntry(
            .reverseProxy, "Reverse proxy",
            stages: [.d], faults: [.init(.slammer, .mitigates), .init(.noCongestionControl, .mitigates)], source: .inferred,
            roles: [], status: .deployment,
            note: "A TCP load balancer in front of a stage's instances; mailnode still sees the real "
                + "client through the PROXY protocol (MN03)."),
        CatalogEntry(
            .camram, "CAMRAM (hashcash postage)",
            stages: [.a, .d], faults: [.init(.spam, .mitigates)], source: .inferred,
            roles: [.mx], status: .native,
            note: "On the mx ([mx.hashcash], off by default): the X-Hashcash stamps (version 1) of each message are "
                + "verified at the end of DATA: resource = an envelope recipient, claimed bits at least `bits` (20) and "
                + "really paid (SHA-1 leading zeros), minted within max_age (7 days), not spent on another message "
                + "(the state store remembers each counted stamp). `tag` writes X-Mailnode-Hashcash: pass/partial/fail/none "
                + "for later stages and readers; `require` refuses mail not paid for every recipient (550 5.7.1). "
                + "Minting stamps for our own users' outgoing mail, and the antispam role weighing the result, are not built.",
            keys: ["mx.hashcash.bits", "mx.hashcash.max_age", "mx.hashcash.action", "state.backend"],
            references: ["A. Back, Hashcash - A Denial of Service Counter-Measure (2002)", "hashcash.org stamp format, version 1"]),
        CatalogEntry(
            .honeyPots, "Honey pots (spam traps)",
            stages: [.a], faults: [.init(.spam, .mitigates)], source: .inferred,
            roles: [.mx], status: .native,
            note: "SpamTrap: RCPT to a trap address gets 550 5.1.1 (like an unknown user), the rest of the session "
                + "554 5.7.1, the message is refused for every recipient, and the client's address is blocked "
                + "(a `block:` record, default 1 day) on every node sharing the state store. Off by default.",
            keys: ["mx.spam_traps.addresses", "mx.spam_traps.block_for", "mx.blocklist.dynamic", "state.backend"]),
        CatalogEntry(
            .antivirus, "Antivirus software",
            stages: [.c, .mua], faults: [.init(.virus, .solves)], source: .tableII(printedAs: nil),
            roles: [.antivirus], status: .engine,
            note: "The antivirus role drives clamd (INSTREAM over TCP/Unix socket, failover; 451 when no scanner "
                + "answers unless failure_policy = pass-with-header) at the end of DATA, after MIME walking and "
                + "attachment blocking: 554 5.7.0 while the previous stage is connected, or 250 and the quarantine "
                + "(mailnode quarantine list|show|release|delete|purge); never a bounce. Signatures are clamd's "
                + "(freshclam), not ours; strip-and-replace of attachments is not built.",
            keys: ["antivirus.clamd", "antivirus.scan_timeout", "antivirus.failure_policy", "antivirus.action", "antivirus.blocked_attachments",
                   "antivirus.block_extensions", "antivirus.extra_extensions", "antivirus.max_message_size",
                   "antivirus.max_depth", "antivirus.max_parts", "antivirus.max_decoded", "antivirus.quarantine_retention",
                   "antivirus.accept_from"],
            references: ["clamd(8) INSTREAM", "RFC 2045", "RFC 2046", "RFC 2231"]),
        CatalogEntry(
            .notWindows, "Not use Microsoft Windows",
            stages: PaperStage.servers + [.mua], faults: [.init(.virus, .mitigates)], source: .inferred,
            roles: [], status: .deployment,
            note: "mailnode runs on Linux (macOS for development); the users' systems are outside its reach."),
        CatalogEntry(
            .senderPolicyFramework, "Sender Policy Framework (SPF)",
            stages: [.a, .f],
            faults: [.init(.forging, .solves), .init(.anonymous, .mitigates), .init(.fraud, .solves), .init(.phishing, .solves)],
            source: .tableII(printedAs: nil), roles: [.mx, .outbound], status: .native,
            note: "SPFDefense on the mx ([mx.spf], off by default): the MAIL FROM result (openspf suites 203/203) at "
                + "MAIL FROM, fail → 550 5.7.23 with the domain's exp= text, temperror → 451 4.7.24, the rest logged; "
                + "kept for greylisting's SPF-pass exemption and written into `[mx.authentication]`'s "
                + "Authentication-Results field (spf=, smtp.mailfrom); the outbound "
                + "role's `mailnode spf record` comes with issue 9.",
            keys: ["mx.spf.on_fail", "mx.spf.on_softfail", "mx.spf.on_temperror", "mx.spf.on_permerror", "dns.servers"],
            references: ["RFC 7208"]),
        CatalogEntry(
            .domainKeys, "DomainKeys (today DKIM, with DMARC alignment)",
            stages: [.a, .f],
            faults: [.init(.forging, .mitigates), .init(.phishing, .mitigates), .init(.fraud, .mitigates)], source: .inferred,
            roles: [.mx, .outbound], status: .native,
            note: "The mx role's message stage (`[mx.authentication]`) verifies every DKIM signature while the "
                + "message streams into the spool (keys fetched at the end of DATA) and writes the results into "
                + "its Authentication-Results field; DMARC (MN04) uses them. Signing (RSA, Ed25519) exists as "
                + "`mailnode dkim sign` and in the library; the outbound role's signing configuration comes with "
                + "issue 9.",
            keys: ["mx.authentication.dkim", "mx.authentication.authserv_id", "dns.servers"],
            references: ["RFC 6376", "RFC 8463", "RFC 8301", "RFC 8601"]),
        CatalogEntry(
            .greetPause, "Greet pause",
            stages: [.a, .b], faults: [.init(.slammer, .mitigates), .init(.spam, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx], status: .native,
            note: "The greeting waits (default 5 s); a client that talks first gets 554 5.7.1 and is closed, and is "
                + "refused at once for a day (state store); a client that waited is greeted at once for a day. Off by default.",
            keys: ["mx.greet_pause.pause", "mx.greet_pause.remember_talker", "mx.greet_pause.remember_passed", "state.backend"],
            references: ["RFC 5321 §3.1", "RFC 5321 §4.3.1"]),
        CatalogEntry(
            .dataRateLimit, "Data rate (bps) limit of each SMTP flow",
            stages: [.a, .b], faults: [.init(.noCongestionControl, .mitigates), .init(.slammer, .mitigates)], source: .inferred,
            roles: [.mx, .submission], status: .native,
            note: "A floor: after a grace period (default 30 s) a message's data phase (DATA, or BDAT up to "
                + "LAST) must average at least mx.min_data_rate (default 500 octets/s, as Postfix), else 421 "
                + "4.4.2, close, nothing stored; time the server itself paused reading does not count. A cap: "
                + "mx.max_data_rate octets/s per connection (off by default), enforced by not reading the socket.",
            keys: ["mx.min_data_rate", "mx.data_rate_grace", "mx.max_data_rate"],
            references: ["RFC 5321 §3.8", "RFC 5321 §4.5.3.2", "RFC 3463 X.4.2"]),
        CatalogEntry(
            .senderVolumeLimit, "Limit amount of e-mail from a specific sender",
            stages: [.a, .b],
            faults: [.init(.mailBombing, .mitigates), .init(.trafficAmplification, .mitigates), .init(.spam, .mitigates)],
            source: .inferred, roles: [.mx, .submission], status: .native,
            note: "SenderVolumeLimit: messages and recipients per sender over a sliding window in the state store "
                + "(the authenticated user, else the envelope sender; not `<>`), 451 4.7.1 beyond. At the mx the sender "
                + "is only a claim, so a forger can get that address's mail deferred, never refused. Off by default.",
            keys: ["mx.sender_rate.window", "mx.sender_rate.max_messages", "mx.sender_rate.max_recipients",
                   "submission.sender_rate.max_messages", "submission.sender_rate.max_recipients", "state.backend"]),
        CatalogEntry(
            .mailboxQuota, "Mailbox quota",
            stages: [.g], faults: [.init(.mailBombing, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.store], status: .native,
            note: "The store role: octets and messages per user (0 = unlimited, the default): a recipient without room "
                + "gets 452 4.2.2 at RCPT (checked against SIZE when given) and again at the end of data with the real "
                + "size, inside the delivery's transaction, so the previous stage keeps the message; a warning is "
                + "logged when usage crosses quota_warning_percent. Per-user overrides and IMAP QUOTA are not yet.",
            keys: ["store.quota_bytes", "store.quota_messages", "store.quota_warning_percent"],
            references: ["RFC 3463 X.2.2", "RFC 2033 §4.2"]),
        CatalogEntry(
            .badRecipientThrottle, "Bad RCPT throttle",
            stages: [.a, .b], faults: [.init(.noCongestionControl, .mitigates), .init(.spam, .mitigates)], source: .tableII(printedAs: nil),
            roles: [.mx, .submission], status: .native,
            note: "Each recipient refused with 5xx beyond the first few is answered later (a growing tarpit delay); "
                + "after a threshold 421 4.7.0 and close. Counted per client address in the state store for an hour. "
                + "Off by default; mx.max_errors (MN07) still closes a session after that many errors. On submission "
                + "([submission.bad_rcpt]) it counts the recipient check's 550s: an account probing local addresses.",
            keys: ["mx.bad_rcpt.free", "mx.bad_rcpt.delay_step", "mx.bad_rcpt.max_delay", "mx.bad_rcpt.disconnect_after",
                   "submission.bad_rcpt.free", "submission.bad_rcpt.disconnect_after", "state.backend"],
            references: ["RFC 5321 §4.2.5"]),
    ]
}
