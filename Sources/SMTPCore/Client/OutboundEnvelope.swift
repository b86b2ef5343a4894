/// One recipient of an ``OutboundEnvelope`` with its DSN request (RFC 3461 §4).
public struct OutboundRecipient: Hashable, Sendable {
    public var path: ForwardPath
    /// `NOTIFY=`; sent only when the server offers DSN.
    public var notify: DSNNotify?
    /// `ORCPT=`; sent only when the server offers DSN.
    public var originalRecipient: OriginalRecipient?

    public init(_ path: ForwardPath, notify: DSNNotify? = nil, originalRecipient: OriginalRecipient? = nil) {
        self.path = path
        self.notify = notify
        self.originalRecipient = originalRecipient
    }
}

/// What the client says in MAIL FROM and RCPT TO for one message.
///
/// Parameters are requests: the client sends each only when the server offers the extension,
/// and fails early (without sending the message) where dropping one would be wrong —
/// `requireTLS`, `SMTPUTF8`, 8BITMIME/BINARYMIME bodies.
public struct OutboundEnvelope: Hashable, Sendable {
    public var sender: ReversePath
    public var recipients: [OutboundRecipient]
    /// `BODY=` (RFC 6152 / RFC 3030). `.eightBitMIME` needs 8BITMIME, `.binaryMIME` needs
    /// BINARYMIME and CHUNKING (the data is then sent byte-exact with BDAT); this client does
    /// not downgrade content, so a missing extension is a permanent failure (5.6.3).
    public var body: BodyType?
    /// The message itself has UTF-8 headers (RFC 6532): SMTPUTF8 is required even when every
    /// address is ASCII. Non-ASCII addresses are detected on their own.
    public var messageIsInternationalized: Bool
    /// `RET=` (RFC 3461 §4.3), sent only when the server offers DSN.
    public var dsnReturn: DSNReturn?
    /// `ENVID=` (RFC 3461 §4.4), sent only when the server offers DSN.
    public var envelopeID: String?
    /// `REQUIRETLS` (RFC 8689): the message may only travel over TLS to servers that promise to
    /// keep it that way; not offered → permanent failure 5.7.30.
    public var requireTLS: Bool
    /// `AUTH=` (RFC 4954 §5), sent only after a successful AUTH.
    public var authenticatedSender: String?

    public init(sender: ReversePath, recipients: [OutboundRecipient], body: BodyType? = nil,
                messageIsInternationalized: Bool = false, dsnReturn: DSNReturn? = nil,
                envelopeID: String? = nil, requireTLS: Bool = false, authenticatedSender: String? = nil) {
        self.sender = sender
        self.recipients = recipients
        self.body = body
        self.messageIsInternationalized = messageIsInternationalized
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
        self.requireTLS = requireTLS
        self.authenticatedSender = authenticatedSender
    }

    /// Plain recipients, no DSN requests.
    public init(sender: ReversePath, recipients: [ForwardPath]) {
        self.init(sender: sender, recipients: recipients.map { OutboundRecipient($0) })
    }

    /// True when some address has a non-ASCII local part or domain (RFC 6531).
    public var hasInternationalizedAddress: Bool {
        (sender.mailbox?.isInternationalized ?? false)
            || recipients.contains { $0.path.mailbox?.isInternationalized ?? false }
    }
}
