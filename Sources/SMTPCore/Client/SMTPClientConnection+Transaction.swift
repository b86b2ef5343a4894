import NIOCore

/// MAIL and RCPT commands ready to go, after the local checks.
struct ClientPreparedTransaction {
    var mail: Command
    var rcpts: [Command]
    /// BDAT instead of DATA (RFC 3030).
    var useChunking: Bool
    /// BODY=BINARYMIME: bytes go out exactly as given, no line-ending repair.
    var isBinary: Bool
}

/// Per-recipient bookkeeping while a transaction runs; turns into a ``DeliveryResult``.
struct ClientTransactionState {
    let recipients: [ForwardPath]
    var statuses: [RecipientResult.Status?]
    /// Indices of recipients the server accepted at RCPT, in envelope order.
    var acceptedAtRcpt: [Int] = []
    var messageError: SMTPClientError?

    init(recipients: [ForwardPath]) {
        self.recipients = recipients
        self.statuses = Array(repeating: nil, count: recipients.count)
    }

    mutating func set(_ index: Int, failure: SMTPClientError) {
        statuses[index] = failure.isPermanent ? .permanentFailure(failure) : .temporaryFailure(failure)
    }

    /// Every recipient without a final status fails with `error`, which becomes the
    /// message-level reason.
    mutating func failRemaining(_ error: SMTPClientError) {
        if messageError == nil { messageError = error }
        for index in statuses.indices where statuses[index] == nil {
            set(index, failure: error)
        }
    }

    var result: DeliveryResult {
        let results = zip(recipients, statuses).map { recipient, status in
            RecipientResult(recipient: recipient,
                            status: status ?? .temporaryFailure(.connectionUnusable))
        }
        return DeliveryResult.classify(results, messageError: messageError)
    }
}

extension SMTPClientConnection {
    /// Sends one message to the envelope's recipients and reports, per recipient, what the
    /// server did with it. Never throws: every failure is a classified ``DeliveryResult``.
    ///
    /// - Parameters:
    ///   - message: the message (RFC 5322 header and body) as a sequence of buffers; read once,
    ///     chunk by chunk, never held whole. Line endings may be bare LF or CRLF: with DATA it
    ///     is dot-stuffed and normalised to CRLF (RFC 5321 §4.5.2), with BDAT normalised to
    ///     CRLF (not touched at all for BINARYMIME).
    ///   - size: the size in octets, if known: declared with `SIZE=` (RFC 1870) and checked
    ///     against the server's fixed maximum before anything is sent.
    public func send<Message: AsyncSequence & Sendable>(
        envelope: OutboundEnvelope, message: Message, size: Int?
    ) async -> DeliveryResult where Message.Element == ByteBuffer {
        let paths = envelope.recipients.map(\.path)
        guard !isBusy, isUsable else { return .failed(.connectionUnusable, recipients: paths) }
        guard !envelope.recipients.isEmpty else {
            return .failed(.localPolicy(Reply(.transactionFailed, .invalidCommand, "No recipients"), stage: .rcpt),
                           recipients: [])
        }
        isBusy = true
        defer { isBusy = false }

        var state = ClientTransactionState(recipients: paths)
        let channel = self.channel
        let outcome: Result<Void, SMTPClientError> = await withTaskCancellationHandler {
            do throws(SMTPClientError) {
                let prepared = try prepare(envelope, size: size)
                if transactionCount > 0 {
                    // RFC 5321 §4.1.1.5: a clean slate for the next transaction on this session.
                    let reply = try await command(.rset, stage: .reset, timeout: configuration.timeouts.command)
                    guard reply.code.isPositiveCompletion else { throw .rejected(reply, stage: .reset) }
                }
                transactionCount += 1
                try await run(prepared, message: message, state: &state)
                return .success(())
            } catch {
                return .failure(error)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        if case .failure(var error) = outcome {
            if Task.isCancelled { error = .cancelled }
            state.failRemaining(error)
            switch error {
            case .rejected(let reply, let stage) where reply.code != .serviceNotAvailable && stage != .reset:
                break  // the server said no; the session goes on (next transaction sends RSET)
            case .localPolicy:
                break
            default:
                handler.value.close()
            }
        }
        let result = state.result
        logger.info("delivery: \(result)", metadata: ["smtp.recipients": "\(paths.count)"])
        return result
    }

    /// Sends a message held in one buffer (sliced, not copied).
    public func send(envelope: OutboundEnvelope, message: ByteBuffer) async -> DeliveryResult {
        await send(envelope: envelope,
                   message: SingleBufferMessage(message, sliceSize: configuration.chunkSize),
                   size: message.readableBytes)
    }

    // MARK: - Local checks

    /// Builds MAIL and RCPT with only the parameters the server offers, or refuses early.
    func prepare(_ envelope: OutboundEnvelope, size: Int?) throws(SMTPClientError) -> ClientPreparedTransaction {
        let capabilities = self.capabilities
        var parameters = MailParameters()
        // RFC 1870 §6: declare the size, and do not send what the server already refused.
        if let size, capabilities.size {
            if let maximum = capabilities.maxMessageSize, size > maximum {
                throw .localPolicy(Reply(.exceededStorage, .messageTooBig,
                                         "Message size \(size) exceeds the server's fixed maximum of \(maximum)"),
                                   stage: .mail)
            }
            parameters.size = size
        }
        switch envelope.body {
        case .eightBitMIME?:
            // RFC 6152 §3: 8-bit data only to a server offering 8BITMIME; we do not downgrade.
            guard capabilities.eightBitMIME else {
                throw .localPolicy(Reply(.transactionFailed, .conversionNotSupported,
                                         "8-bit message but the server does not offer 8BITMIME"), stage: .mail)
            }
            parameters.body = .eightBitMIME
        case .binaryMIME?:
            // RFC 3030 §3: BINARYMIME needs CHUNKING as well.
            guard capabilities.binaryMIME, capabilities.chunking else {
                throw .localPolicy(Reply(.transactionFailed, .conversionNotSupported,
                                         "Binary message but the server does not offer BINARYMIME"), stage: .mail)
            }
            parameters.body = .binaryMIME
        case .sevenBit?:
            if capabilities.eightBitMIME { parameters.body = .sevenBit }
        case nil:
            break
        }

        var sender = envelope.sender
        var recipientPaths = envelope.recipients.map(\.path)
        if envelope.messageIsInternationalized || envelope.hasInternationalizedAddress {
            if capabilities.smtpUTF8 {
                parameters.smtpUTF8 = true  // RFC 6531 §3.4
            } else if !envelope.messageIsInternationalized,
                      let asciiSender = Self.asciiPath(sender),
                      let asciiRecipients = Self.asciiPaths(recipientPaths) {
                // Only the domains are non-ASCII: A-labels need no extension (RFC 5890).
                sender = asciiSender
                recipientPaths = asciiRecipients
            } else {
                // RFC 6531 §3.2: no SMTPUTF8, no internationalised address on the wire.
                throw .localPolicy(Reply(.mailboxNameNotAllowed, .utf8AddressNotPermitted,
                                         "SMTPUTF8 required but not offered by the server"), stage: .mail)
            }
        }
        if capabilities.dsn {
            parameters.dsnReturn = envelope.dsnReturn
            parameters.envelopeID = envelope.envelopeID
        }
        if envelope.requireTLS {
            // RFC 8689 §4.1, §5: only over TLS to a server offering REQUIRETLS, else 5.7.30.
            guard isTLS || (configuration.requireTLSOverLoopback && LoopbackAddress.contains(host)), capabilities.requireTLS else {
                throw .localPolicy(Reply(.transactionFailed, .requireTLSNotSupported,
                                         "REQUIRETLS support required"), stage: .mail)
            }
            parameters.requireTLS = true
        }
        if isAuthenticated, let authenticatedSender = envelope.authenticatedSender {
            parameters.auth = authenticatedSender  // RFC 4954 §5
        }
        let rcpts = zip(recipientPaths, envelope.recipients).map { path, recipient in
            Command.rcpt(path, capabilities.dsn
                ? RcptParameters(notify: recipient.notify, originalRecipient: recipient.originalRecipient)
                : RcptParameters())
        }
        let isBinary = envelope.body == .binaryMIME
        return ClientPreparedTransaction(
            mail: .mail(sender, parameters),
            rcpts: rcpts,
            useChunking: capabilities.chunking && (configuration.preferChunking || isBinary),
            isBinary: isBinary)
    }

    private static func asciiPath(_ path: ReversePath) -> ReversePath? {
        guard case .mailbox(let mailbox) = path else { return path }
        return asciiMailbox(mailbox).map(ReversePath.mailbox)
    }

    private static func asciiPaths(_ paths: [ForwardPath]) -> [ForwardPath]? {
        var out: [ForwardPath] = []
        for path in paths {
            guard case .mailbox(let mailbox) = path else { out.append(path); continue }
            guard let ascii = asciiMailbox(mailbox) else { return nil }
            out.append(.mailbox(ascii))
        }
        return out
    }

    private static func asciiMailbox(_ mailbox: Mailbox) -> Mailbox? {
        guard mailbox.localPart.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        guard mailbox.host.isInternationalized, case .domain(let name) = mailbox.host else { return mailbox }
        guard let ascii = try? IDNA.toASCII(name) else { return nil }
        return Mailbox(localPart: mailbox.localPart, host: .domain(ascii))
    }

    // MARK: - The transaction

    func run<Message: AsyncSequence & Sendable>(
        _ transaction: ClientPreparedTransaction, message: Message, state: inout ClientTransactionState
    ) async throws(SMTPClientError) where Message.Element == ByteBuffer {
        let timeouts = configuration.timeouts
        let pipelined = configuration.usePipelining && capabilities.pipelining
        let useData = !transaction.useChunking

        var mailReply: Reply
        var rcptReplies: [Reply] = []
        var dataReply: Reply?
        if pipelined {
            // RFC 2920 §3.1: MAIL, every RCPT and DATA in one write; replies come in order.
            var commands = [transaction.mail] + transaction.rcpts
            if useData { commands.append(.data) }
            try await sendCommands(commands, stage: .mail, timeout: timeouts.mail)
            mailReply = try await readReply(stage: .mail, timeout: timeouts.mail)
            for _ in transaction.rcpts {
                rcptReplies.append(try await readReply(stage: .rcpt, timeout: timeouts.rcpt))
            }
            if useData { dataReply = try await readReply(stage: .data, timeout: timeouts.dataInitiation) }
        } else {
            mailReply = try await command(transaction.mail, stage: .mail, timeout: timeouts.mail)
            if mailReply.code.isPositiveCompletion {
                for rcpt in transaction.rcpts {
                    rcptReplies.append(try await command(rcpt, stage: .rcpt, timeout: timeouts.rcpt))
                }
            }
        }

        guard mailReply.code.isPositiveCompletion else {
            if dataReply?.code == .startMailInput { try await endEmptyData() }
            state.failRemaining(.rejected(mailReply, stage: .mail))
            return
        }
        for (index, reply) in rcptReplies.enumerated() {
            if reply.code.isPositiveCompletion {
                state.acceptedAtRcpt.append(index)
            } else {
                state.set(index, failure: .rejected(reply, stage: .rcpt))
            }
        }
        guard !state.acceptedAtRcpt.isEmpty else {
            // RFC 2920 §3.1: with no recipient the data must not go out; a server that still
            // answered 354 gets an empty message, ended at once (and rejected).
            if dataReply?.code == .startMailInput { try await endEmptyData() }
            return
        }

        if transaction.useChunking {
            try await sendChunks(message, binary: transaction.isBinary)
        } else {
            let reply: Reply
            if let dataReply {
                reply = dataReply
            } else {
                reply = try await command(.data, stage: .data, timeout: timeouts.dataInitiation)
            }
            guard reply.code == .startMailInput else {
                state.failRemaining(.rejected(reply, stage: .data))
                return
            }
            try await streamData(message)
        }
        try await readFinalReplies(state: &state)
    }

    /// After the data: one reply (SMTP), or one per accepted recipient in RCPT order
    /// (LMTP, RFC 2033 §4.2).
    private func readFinalReplies(state: inout ClientTransactionState) async throws(SMTPClientError) {
        let timeout = configuration.timeouts.dataTermination
        if configuration.mode == .lmtp {
            for index in state.acceptedAtRcpt {
                let reply = try await readReply(stage: .dataTermination, timeout: timeout)
                if reply.code.isPositiveCompletion {
                    state.statuses[index] = .accepted(reply)
                } else {
                    state.set(index, failure: .rejected(reply, stage: .dataTermination))
                }
            }
            return
        }
        let reply = try await readReply(stage: .dataTermination, timeout: timeout)
        guard reply.code.isPositiveCompletion else {
            state.failRemaining(.rejected(reply, stage: .dataTermination))
            return
        }
        for index in state.acceptedAtRcpt { state.statuses[index] = .accepted(reply) }
    }

    /// DATA content: dot-stuffed, CRLF-normalised, ended with `.` (RFC 5321 §4.5.2), one write
    /// per source chunk so memory stays at one chunk.
    private func streamData<Message: AsyncSequence & Sendable>(_ message: Message) async throws(SMTPClientError)
    where Message.Element == ByteBuffer {
        let timeout = configuration.timeouts.dataBlock
        var encoder = DataEncoder()
        var octets = 0
        do {
            for try await chunk in message {
                octets += chunk.readableBytes
                var out = channel.allocator.buffer(capacity: chunk.readableBytes + chunk.readableBytes / 16 + 8)
                encoder.encode(chunk, into: &out)
                if out.readableBytes > 0 { try await write(out, stage: .dataBlock, timeout: timeout) }
            }
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw .messageSourceFailed(String(describing: error))
        }
        var out = channel.allocator.buffer(capacity: 8)
        encoder.finish(into: &out)
        try await write(out, stage: .dataBlock, timeout: timeout)
        logger.debug("C: <\(octets) octets of message data> .")
    }

    /// BDAT chunks of ``SMTPClientConfiguration/chunkSize`` octets, each waiting for its
    /// `250`; the last one is `BDAT n LAST` (RFC 3030 §2).
    private func sendChunks<Message: AsyncSequence & Sendable>(_ message: Message, binary: Bool) async throws(SMTPClientError)
    where Message.Element == ByteBuffer {
        let chunkSize = max(1, configuration.chunkSize)
        var pending = channel.allocator.buffer(capacity: chunkSize)
        var normalizer = ClientLineEndingNormalizer()
        do {
            for try await chunk in message {
                if binary {
                    var chunk = chunk
                    pending.writeBuffer(&chunk)
                } else {
                    normalizer.normalize(chunk, into: &pending)
                }
                // Hold back at least one octet: only the end of the source tells us which chunk is LAST.
                while pending.readableBytes > chunkSize, let slice = pending.readSlice(length: chunkSize) {
                    try await sendChunk(slice, last: false)
                }
                pending.discardReadBytes()
            }
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw .messageSourceFailed(String(describing: error))
        }
        if !binary { normalizer.finish(into: &pending) }
        try await sendChunk(pending, last: true)
    }

    private func sendChunk(_ chunk: ByteBuffer, last: Bool) async throws(SMTPClientError) {
        let command = Command.bdat(size: chunk.readableBytes, last: last)
        var buffer = channel.allocator.buffer(capacity: chunk.readableBytes + 24)
        buffer.writeString(command.wireLine)
        buffer.writeString("\r\n")
        buffer.writeImmutableBuffer(chunk)
        logger.debug("C: \(command.wireLine) <\(chunk.readableBytes) octets>")
        try await write(buffer, stage: .dataBlock, timeout: configuration.timeouts.dataBlock)
        guard !last else { return }
        let reply = try await readReply(stage: .dataBlock, timeout: configuration.timeouts.dataBlock)
        guard reply.code.isPositiveCompletion else { throw .rejected(reply, stage: .dataBlock) }
    }

    /// Ends a DATA the server should not have accepted: just the terminating dot.
    private func endEmptyData() async throws(SMTPClientError) {
        var buffer = channel.allocator.buffer(capacity: 3)
        buffer.writeString(".\r\n")
        try await write(buffer, stage: .dataBlock, timeout: configuration.timeouts.dataBlock)
        _ = try await readReply(stage: .dataTermination, timeout: configuration.timeouts.dataTermination)
    }
}
