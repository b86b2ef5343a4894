import NIOCore

extension SMTPSession {
    // MARK: - DATA (RFC 5321 §4.1.1.4)

    mutating func data() -> [Action] {
        guard phase == .transaction, let envelope, incoming == nil else {
            return error(Reply(.badSequence, .badSequence, "Need MAIL and RCPT before DATA"))
        }
        guard !envelope.recipients.isEmpty else {
            // RFC 2920 §3.1: DATA after all RCPTs failed.
            return error(Reply(.transactionFailed, .badSequence, "No valid recipients"))
        }
        if exceedsHardRecipientLimit {
            return [.reply(Self.hardRecipientLimitReply(at: .data))]
        }
        if envelope.parameters.body == .binaryMIME {
            // RFC 3030 §3: BINARYMIME data must be sent with BDAT.
            return error(Reply(.badSequence, .badSequence, "BINARYMIME requires BDAT"))
        }
        pending = .hook(.dataStart(envelope))
        return [.runHook(.dataStart(envelope))]
    }

    // MARK: - BDAT (RFC 3030 §2)

    mutating func bdat(size: Int, last: Bool) -> [Action] {
        guard configuration.chunkingEnabled else {
            return error(Reply(.commandNotImplemented, .invalidCommand, "BDAT not available"))
        }
        if phase == .transaction, let envelope, !envelope.recipients.isEmpty, !exceedsHardRecipientLimit {
            if incoming == nil {
                pendingChunk = (size, last)
                pending = .hook(.dataStart(envelope))
                return [.runHook(.dataStart(envelope))]
            }
            return beginChunk(size: size, last: last)
        }
        // The chunk's octets follow whatever we answer; swallow them and fail the chunk.
        let reply = phase == .transaction
            ? (exceedsHardRecipientLimit ? Self.hardRecipientLimitReply(at: .data) : Reply(.transactionFailed, .badSequence, "No valid recipients"))
            : Reply(.badSequence, .badSequence, "Need MAIL and RCPT before BDAT")
        incoming = IncomingMessage(viaBDAT: true, writerOpen: false, discardReply: reply)
        return beginChunk(size: size, last: last)
    }

    mutating func beginChunk(size: Int, last: Bool) -> [Action] {
        incoming?.lastChunk = last
        phase = .receivingData
        startDataRateGuard(now: lastActivity)
        framer.expectChunk(size: size, binary: envelope?.parameters.body == .binaryMIME)
        return []
    }

    // MARK: - Message bytes

    mutating func messageData(_ chunk: ByteBuffer) -> [Action] {
        dataRate?.record(chunk.readableBytes)
        guard var message = incoming, message.discardReply == nil else { return [] }
        message.octets += chunk.readableBytes
        if message.octets > configuration.limits.maxMessageSize {
            // RFC 1870 §6.3: keep reading, answer 552 at the end.
            message.discardReply = Reply(.exceededStorage, .messageTooBig, "Message size exceeds fixed maximum message size")
            let wasOpen = message.writerOpen
            message.writerOpen = false
            incoming = message
            return wasOpen ? [.abortMessage] : []
        }
        incoming = message
        return [.writeMessageData(chunk)]
    }

    mutating func messageEnd(_ summary: MessageDataSummary) -> [Action] {
        guard let message = incoming else { return [] }
        if !message.viaBDAT || message.lastChunk { dataRate = nil }   // DM33: the data phase is over
        if let reply = message.discardReply {
            // A failed chunk ends the transaction (RFC 3030 §2: the client must start again).
            resetTransaction()
            return error(reply) + closeIfShuttingDown()
        }
        if message.viaBDAT, !message.lastChunk {
            phase = .transaction
            return [.reply(Reply(.ok, .ok, "\(message.octets) octets received"))]
        }
        if let rejection = contentRejection(summary, binary: envelope?.parameters.body == .binaryMIME) {
            resetTransaction()
            return [.abortMessage] + error(rejection) + closeIfShuttingDown()
        }
        guard let envelope else { return [] }
        phase = .committing
        pending = .hook(.dataEnd(envelope, summary))
        return [.runHook(.dataEnd(envelope, summary))]
    }

    /// The session's own content checks at end of data: line endings and line length.
    func contentRejection(_ summary: MessageDataSummary, binary: Bool) -> Reply? {
        if binary { return nil }
        if summary.violatesLineEndingPolicy, configuration.bareLineEndings == .reject {
            // SMTP smuggling defense: the message is refused as a whole.
            return Reply(.transactionFailed, .syntaxError, "Message contains bare CR or LF, use CRLF line endings")
        }
        if summary.sawLongLine {
            // RFC 5321 §4.5.3.1.6
            return Reply(.transactionFailed, .syntaxError, "Message contains a line longer than \(configuration.limits.maxTextLineLength) octets")
        }
        return nil
    }
}

extension SMTPSession {
    // MARK: - DM09 hard recipient limit

    /// Where the hard recipient limit answers.
    enum HardLimitPoint { case rcpt, data }

    /// True when the transaction saw more RCPT commands than `limits.hardRecipientLimit`.
    var exceedsHardRecipientLimit: Bool {
        configuration.limits.hardRecipientLimit > 0 && recipientAttempts > configuration.limits.hardRecipientLimit
    }

    /// `552 5.5.3` for each RCPT beyond the hard limit (the historical "too many recipients" of
    /// [RFC 5321 §4.5.3.1.10](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.10), permanent
    /// on purpose: unlike the soft limit's 452 the client must not send the rest later), then
    /// `554 5.5.3` for the message itself ([RFC 3463 §3.6](https://www.rfc-editor.org/rfc/rfc3463#section-3.6) X.5.3).
    static func hardRecipientLimitReply(at point: HardLimitPoint) -> Reply {
        switch point {
        case .rcpt: Reply(.exceededStorage, .tooManyRecipientsPermanent, "Too many recipients")
        case .data: Reply(.transactionFailed, .tooManyRecipientsPermanent, "Too many recipients, message refused")
        }
    }
}
