import NIOCore

extension SMTPSession {
    /// A hook the handler ran has decided.
    public mutating func hookCompleted(_ decision: HookDecision, now: NIODeadline) -> [Action] {
        guard case .hook(let call) = pending else { return [] }
        pending = nil
        lastActivity = now
        if case .disconnect(let reply) = decision {
            let abort: [Action] = incoming?.writerOpen == true ? [.abortMessage] : []
            return abort + [.reply(reply)] + close()
        }
        switch call {
        case .connected:
            switch decision {
            case .reply(let reply) where !reply.code.isPositiveCompletion:
                phase = .refused   // RFC 5321 §3.1: 554 greeting, then wait for QUIT
                return [.reply(reply)]
            case .reply(let reply):
                phase = .awaitingHelo
                return [.reply(reply)]
            default:
                phase = .awaitingHelo
                return [.reply(greeting)]
            }

        case .helo(let host):
            if case .reply(let reply) = decision, !reply.code.isPositiveCompletion {
                context.heloName = nil
                return error(reply)
            }
            phase = .ready
            context.heloName = host
            if context.isExtended { return [.reply(ehloReply)] }
            return [.reply(Reply(.ok, nil, "\(configuration.hostname)"))]

        case .mailFrom(let path, let parameters):
            if case .reply(let reply) = decision, !reply.code.isPositiveCompletion { return error(reply) }
            envelope = Envelope(reversePath: path, parameters: parameters)
            recipientAttempts = 0
            phase = .transaction
            framer.resetMessage()
            if case .reply(let reply) = decision { return [.reply(reply)] }
            return [.reply(Reply(.ok, .senderOK, "OK"))]

        case .rcptTo(let recipient, _):
            if case .reply(let reply) = decision, !reply.code.isPositiveCompletion { return error(reply) }
            envelope?.recipients.append(recipient)
            if case .reply(let reply) = decision { return [.reply(reply)] }
            return [.reply(Reply(.ok, .destinationOK, "OK"))]

        case .dataStart(let envelope):
            let chunk = pendingChunk
            if case .reply(let reply) = decision, !reply.code.isPositiveCompletion {
                if let chunk {
                    pendingChunk = nil
                    incoming = IncomingMessage(viaBDAT: true, writerOpen: false, discardReply: reply)
                    return beginChunk(size: chunk.size, last: chunk.last)
                }
                return error(reply)
            }
            pending = .open(viaBDAT: chunk != nil)
            return [.openMessage(envelope)]

        case .dataEnd(_, let summary):
            if case .reply(let reply) = decision, !reply.code.isPositiveCompletion {
                resetTransaction()
                return [.abortMessage] + error(reply) + closeIfShuttingDown()
            }
            pending = .commit
            return [.commitMessage(summary)]
        }
    }

    /// The message writer is open (or could not be opened: disk full, next stage down).
    /// `failure` is the reply for an unsuccessful open (default `451 4.3.0`).
    public mutating func messageOpened(success: Bool, failure: Reply? = nil, now: NIODeadline) -> [Action] {
        guard case .open(let viaBDAT) = pending else { return [] }
        pending = nil
        lastActivity = now
        let failure = failure ?? Reply(.localError, .temporarySystemError, "Local error in processing, try again later")
        if viaBDAT {
            let chunk = pendingChunk ?? (0, true)
            pendingChunk = nil
            incoming = IncomingMessage(viaBDAT: true, writerOpen: success, discardReply: success ? nil : failure)
            return beginChunk(size: chunk.size, last: chunk.last)
        }
        guard success else { return error(failure) }
        incoming = IncomingMessage(viaBDAT: false, writerOpen: true)
        phase = .receivingData
        startDataRateGuard(now: now)
        framer.expectData()
        return [.reply(Reply(.startMailInput, nil, "End data with <CR><LF>.<CR><LF>"))]
    }

    /// The message was committed (durable) or the commit failed (`nil`; `failure` is then the
    /// reply, default `451 4.3.0`).
    public mutating func commitCompleted(_ result: CommitResult?, failure: Reply? = nil, now: NIODeadline) -> [Action] {
        guard pending == .commit else { return [] }
        pending = nil
        lastActivity = now
        let recipients = envelope?.recipients.count ?? 1
        resetTransaction()
        guard let result else {
            return error(failure ?? Reply(.localError, .temporarySystemError, "Local error in processing, try again later"))
                + closeIfShuttingDown()
        }
        var actions: [Action] = []
        if configuration.sessionProtocol == .lmtp {
            // RFC 2033 §4.2: one reply per accepted recipient, in order.
            let replies = result.recipientReplies ?? Array(repeating: result.reply, count: recipients)
            for index in 0..<recipients {
                actions.append(.reply(index < replies.count ? replies[index] : result.reply))
            }
        } else {
            actions.append(.reply(result.reply))
        }
        return actions + closeIfShuttingDown()
    }
}
