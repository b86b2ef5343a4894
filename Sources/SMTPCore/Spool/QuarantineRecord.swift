import Foundation

/// The JSON half of a quarantined message (``QuarantineStore``): why it is held and where it
/// came from. The other half is the message's bytes exactly as the previous stage sent them.
public struct QuarantineRecord: Codable, Sendable, Hashable {
    /// Same alphabet and ordering as spool ids (``SpoolStore/makeID()``).
    public var id: String
    /// When the message was quarantined.
    public var time: Date
    /// What the log said, e.g. `virus Eicar-Test-Signature FOUND by clamd via 127.0.0.1:3310`.
    public var reason: String
    /// The catalog id of the defense that held it (`DM28`).
    public var defense: String
    /// The scanner's signature name, when clamd found one.
    public var signature: String?
    /// The blocked attachment's file name, when the attachment policy held it.
    public var attachment: String?
    public var envelope: Envelope
    /// The client address the message came from (the previous stage).
    public var client: String?
    public var helo: String?
    /// The receiving session (for log correlation).
    public var session: String
    /// Message octets stored.
    public var size: Int

    public init(id: String = SpoolStore.makeID(), time: Date = Date(), reason: String, defense: String,
                signature: String? = nil, attachment: String? = nil, envelope: Envelope, client: String? = nil,
                helo: String? = nil, session: String, size: Int) {
        self.id = id
        self.time = time
        self.reason = reason
        self.defense = defense
        self.signature = signature
        self.attachment = attachment
        self.envelope = envelope
        self.client = client
        self.helo = helo
        self.session = session
        self.size = size
    }
}
