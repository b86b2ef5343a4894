import NIOCore

/// A check of the message itself — the message stage between the end of DATA and the 250.
///
/// The receiving stage (``SpoolReceiver``) starts one ``MessageInspection`` per message and
/// feeds it every chunk as the chunk streams into the spool, so a body hash or a scanner sees
/// the bytes once, without a second copy of the message in memory. At the end of DATA (or the
/// last BDAT chunk, [RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)) each
/// inspection gives its ``InspectionVerdict`` *before* the spool commits: a refusal means the
/// client hears the inspection's reply and nothing is stored; otherwise the header fields the
/// inspections asked for are stored with the message and go in front of it, above this stage's
/// own `Received` field ([RFC 8601 §5](https://www.rfc-editor.org/rfc/rfc8601#section-5):
/// Authentication-Results is added at the top of the existing header).
public protocol MessageInspector: Sendable {
    /// Starts the inspection of one message; nil when this inspector has nothing to do with
    /// it (for example a message from a trusted upstream stage).
    func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)?

    /// Whether the stage removes an incoming header field before storing the message — for
    /// example an `Authentication-Results` field that claims this stage's authserv-id
    /// ([RFC 8601 §5](https://www.rfc-editor.org/rfc/rfc8601#section-5)). `name` and `value`
    /// are as in the message (the value unfolded is up to the inspector). Inspections still see
    /// the message as it arrived. The default removes nothing.
    func removesField(name: String, value: String, session: SessionContext) -> Bool
}

extension MessageInspector {
    public func removesField(name: String, value: String, session: SessionContext) -> Bool { false }
}

/// One message being inspected. Methods are called one at a time, in order: ``update(_:)``
/// for each chunk (dot-unstuffed, exactly as the client sent the message, before any trace
/// field of this stage), then ``finish(summary:)`` once — or neither after the client left.
public protocol MessageInspection: AnyObject, Sendable {
    func update(_ chunk: ByteBuffer) async
    /// The verdict; may do network look-ups (DNS keys, a scanner), bounded by the inspector.
    func finish(summary: MessageDataSummary) async -> InspectionVerdict
}

/// What one inspection decided about a message.
public struct InspectionVerdict: Sendable, Hashable {
    public enum Disposition: Sendable, Hashable {
        /// Store the message (with ``InspectionVerdict/prepend``).
        case accept
        /// Do not store it: the client gets this reply (5xx: refused for good; 4xx: the client
        /// keeps it and tries again).
        case refuse(Reply)
    }

    public var disposition: Disposition
    /// Complete header fields (each ending in CRLF, folded at most 78 columns where possible)
    /// to put in front of the message.
    public var prepend: String
    /// The defense that refused (for logs and metrics).
    public var defense: String?

    public init(disposition: Disposition = .accept, prepend: String = "", defense: String? = nil) {
        self.disposition = disposition
        self.prepend = prepend
        self.defense = defense
    }

    public static let accept = InspectionVerdict()

    public static func refuse(_ reply: Reply, defense: String? = nil, prepend: String = "") -> InspectionVerdict {
        InspectionVerdict(disposition: .refuse(reply), prepend: prepend, defense: defense)
    }
}
