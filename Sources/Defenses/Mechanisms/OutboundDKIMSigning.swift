import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPCore

/// The outbound stage's DKIM signing (DM31, [RFC 6376 §5](https://www.rfc-editor.org/rfc/rfc6376#section-5)):
/// every message handed to the stage is signed for its author's domain (the RFC 5322 `From:`
/// domain, so DMARC's DKIM alignment holds, [RFC 7489 §3.1.1](https://www.rfc-editor.org/rfc/rfc7489#section-3.1.1))
/// with the keys a ``DKIMSigningTable`` has for it, before the spool commits the message. The
/// signatures are stored on top of the message, so every delivery attempt and every retry after
/// a restart sends the same bytes.
///
/// - The body is hashed while it streams into the spool (one hash per body canonicalisation in
///   use, whatever the number of keys); the header is kept, nothing else.
/// - A message the table has no key for (another domain, no usable `From:`) leaves unsigned —
///   logged, counted as `allowed`, never refused: refusing would turn a configuration gap into
///   bounces. `mailnode review` lists the domains that have keys.
/// - Fields this stage adds later (its `Received:`) are not signed; nothing after this stage
///   changes the message.
///
/// Log field `defense=DM31`; counters `DM31 tagged` (signed) and `DM31 allowed` (unsigned).
public struct OutboundDKIMSigning: MessageInspector {
    public static let id = DefenseID.domainKeys

    public let table: DKIMSigningTable
    public let messageLimits: MessageLimits
    let metrics: DefenseMetrics?
    let logger: Logger

    public init(table: DKIMSigningTable, messageLimits: MessageLimits = MessageLimits(), metrics: DefenseMetrics? = nil,
                logger: Logger = Logger(label: "mailnode.defense.dkim-sign")) {
        self.table = table
        self.messageLimits = messageLimits
        self.metrics = metrics
        self.logger = logger
    }

    public func begin(envelope: Envelope, session: SessionContext) async -> (any MessageInspection)? {
        table.isEmpty ? nil : Inspection(owner: self, session: session)
    }

    /// The signature fields for a header and the body hashes by canonicalisation, or why there are none.
    func fields(header: MessageHeader, bodyHashes: [Canonicalization: [UInt8]], signers: [DKIMSigner]) -> Result<String, DKIMSigningError> {
        var text = ""
        for signer in signers {
            guard let hash = bodyHashes[signer.bodyCanonicalization] else { return .failure(DKIMSigningError("no body hash")) }
            do {
                let field = try signer.signature(header: header, bodyHash: hash)
                text += String(decoding: field.wireBytes, as: UTF8.self)
            } catch {
                return .failure(error)
            }
        }
        return .success(text)
    }

    func unsigned(_ reason: String, session: SessionContext) -> InspectionVerdict {
        logger.notice("message leaves unsigned", metadata: ["defense": "\(Self.id)", "session": "\(session.sessionID)", "reason": "\(reason)"])
        metrics?.record("\(Self.id)", .allowed)
        return .accept
    }

    final class Inspection: MessageInspection {
        struct State {
            var reader: MessageReader
            /// Known once the header is complete: who signs, and the body hashers they need.
            var signers: [DKIMSigner]?
            var hashers: [Canonicalization: BodyHasher] = [:]
            var problem: String?
        }

        let owner: OutboundDKIMSigning
        let session: SessionContext
        private let state: NIOLockedValueBox<State>

        init(owner: OutboundDKIMSigning, session: SessionContext) {
            self.owner = owner
            self.session = session
            state = NIOLockedValueBox(State(reader: MessageReader(limits: owner.messageLimits)))
        }

        func update(_ chunk: ByteBuffer) async {
            state.withLockedValue { state in
                guard state.problem == nil else { return }
                let body: ArraySlice<UInt8>
                do {
                    body = try state.reader.feed(Array(chunk.readableBytesView)[...])
                } catch {
                    state.problem = "message header: \(error)"
                    return
                }
                if state.signers == nil, let header = state.reader.header { choose(&state, header: header) }
                for key in state.hashers.keys { state.hashers[key]!.update(body) }
            }
        }

        /// Picks the signers for the author domain and starts their body hashers.
        private func choose(_ state: inout State, header: MessageHeader) {
            switch DMARCFromDomain.extract(from: header) {
            case .failure(let error):
                state.problem = "no author domain: \(error)"
                state.signers = []
            case .success(let domain):
                guard let signers = owner.table.signers(forAuthorDomain: domain) else {
                    state.problem = "no DKIM key for \(domain)"
                    state.signers = []
                    return
                }
                state.signers = signers
                for signer in signers where state.hashers[signer.bodyCanonicalization] == nil {
                    state.hashers[signer.bodyCanonicalization] = signer.bodyHasher()
                }
            }
        }

        func finish(summary: MessageDataSummary) async -> InspectionVerdict {
            let outcome: Result<(MessageHeader, [Canonicalization: [UInt8]], [DKIMSigner]), DKIMSigningError> = state.withLockedValue { state in
                if state.problem == nil, state.signers == nil {
                    // The message ended inside (or right after) its header: no body.
                    do {
                        let header = try state.reader.finish()
                        choose(&state, header: header)
                    } catch {
                        state.problem = "message header: \(error)"
                    }
                }
                if let problem = state.problem { return .failure(DKIMSigningError(problem)) }
                guard let header = state.reader.header, let signers = state.signers else { return .failure(DKIMSigningError("no header")) }
                var hashes: [Canonicalization: [UInt8]] = [:]
                for (key, var hasher) in state.hashers { hashes[key] = hasher.finalize() }
                return .success((header, hashes, signers))
            }
            switch outcome {
            case .failure(let error):
                return owner.unsigned(error.description, session: session)
            case .success(let (header, hashes, signers)):
                switch owner.fields(header: header, bodyHashes: hashes, signers: signers) {
                case .failure(let error):
                    return owner.unsigned(error.description, session: session)
                case .success(let fields):
                    owner.logger.debug("signed", metadata: [
                        "defense": "\(OutboundDKIMSigning.id)", "session": "\(session.sessionID)",
                        "d": "\(signers.map(\.domain).first ?? "")", "s": "\(signers.map(\.selector).joined(separator: ","))",
                    ])
                    owner.metrics?.record("\(OutboundDKIMSigning.id)", .tagged)
                    return InspectionVerdict(prepend: fields)
                }
            }
        }
    }
}
