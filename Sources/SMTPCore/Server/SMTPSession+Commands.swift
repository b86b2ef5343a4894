import NIOCore

extension SMTPSession {
    mutating func commandLine(_ line: ByteBuffer) -> [Action] {
        commandCount += 1
        if commandCount > configuration.limits.maxCommandsPerSession {
            return [.reply(Reply(.serviceNotAvailable, EnhancedStatusCode(4, 7, 0), "Too many commands, closing connection"))] + close()
        }
        let command: Command
        do {
            command = try parser.parse(line)
        } catch {
            return self.error(error.reply)
        }
        return handle(command)
    }

    mutating func handle(_ command: Command) -> [Action] {
        if phase == .refused {
            // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT.
            if command == .quit { return [.reply(.closing)] + close() }
            return error(Reply(.badSequence, .badSequence, "No SMTP service here"))
        }
        let lmtp = configuration.sessionProtocol == .lmtp
        switch command {
        case .ehlo(let host):
            if lmtp { return error(Reply(.syntaxError, .invalidCommand, "Use LHLO in LMTP")) }
            return hello(host, extended: true)
        case .lhlo(let host):
            if !lmtp { return error(Reply(.syntaxError, .invalidCommand, "Command unrecognized")) }
            return hello(host, extended: true)
        case .helo(let host):
            if lmtp { return error(Reply(.syntaxError, .invalidCommand, "Use LHLO in LMTP")) }
            return hello(host, extended: false)
        case .mail(let path, let parameters):
            return mail(path, parameters)
        case .rcpt(let path, let parameters):
            return rcpt(path, parameters)
        case .data:
            return data()
        case .bdat(let size, let last):
            return bdat(size: size, last: last)
        case .rset:
            var actions: [Action] = incoming?.writerOpen == true ? [.abortMessage] : []
            resetTransaction()
            actions.append(.reply(Reply(.ok, .ok, "OK")))
            return actions
        case .noop:
            return [.reply(Reply(.ok, .ok, "OK"))]
        case .quit:
            return [.reply(.closing)] + close()
        case .vrfy:
            // RFC 5321 §3.5.3: 252 says nothing about whether the user exists.
            return [.reply(Reply(.cannotVerify, EnhancedStatusCode(2, 5, 0), "Cannot VRFY user, but will accept message and attempt delivery"))]
        case .expn:
            return error(Reply(.commandNotImplemented, .invalidCommand, "EXPN not available"))
        case .help:
            return [.reply(Reply(.helpMessage, EnhancedStatusCode(2, 0, 0), "See RFC 5321"))]
        case .startTLS:
            return startTLS()
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism: mechanism, initialResponse: initialResponse)
        }
    }

    // MARK: - HELO / EHLO / LHLO (RFC 5321 §4.1.1.1, RFC 2033 §4.1)

    mutating func hello(_ host: MailHost, extended: Bool) -> [Action] {
        var actions: [Action] = incoming?.writerOpen == true ? [.abortMessage] : []
        if phase == .transaction { resetTransaction() }   // RFC 5321 §4.1.4: EHLO resets
        context.heloName = host
        context.isExtended = extended
        pending = .hook(.helo(host))
        actions.append(.runHook(.helo(host)))
        return actions
    }

    /// The EHLO reply: our name, then the extensions (RFC 5321 §4.1.1.1).
    var ehloReply: Reply {
        var lines = ["\(configuration.hostname) greets \(context.heloName.map(String.init(describing:)) ?? "you")"]
        lines.append("PIPELINING")
        lines.append("SIZE \(configuration.limits.maxMessageSize)")
        lines.append("8BITMIME")
        lines.append("ENHANCEDSTATUSCODES")
        if configuration.chunkingEnabled {
            lines.append("CHUNKING")
            lines.append("BINARYMIME")
        }
        if configuration.smtpUTF8Enabled { lines.append("SMTPUTF8") }
        if configuration.dsnEnabled { lines.append("DSN") }
        if context.tls == nil, configuration.startTLSAvailable { lines.append("STARTTLS") }
        if authOffered { lines.append("AUTH " + configuration.authMechanisms.joined(separator: " ")) }
        if protectedForRequireTLS, configuration.requireTLSOffered { lines.append("REQUIRETLS") }   // RFC 8689 §4: only over TLS
        return Reply(.ok, nil, lines: lines)
    }

    /// TLS is up, or the client is on this host (``SMTPSessionConfiguration/requireTLSOverLoopback``).
    var protectedForRequireTLS: Bool {
        context.tls != nil
            || (configuration.requireTLSOverLoopback && context.remoteAddress.map(LoopbackAddress.contains) == true)
    }

    /// AUTH is advertised only when mechanisms exist and TLS is up (or plaintext AUTH is allowed).
    var authOffered: Bool {
        !configuration.authMechanisms.isEmpty && context.authenticatedUser == nil
            && (context.tls != nil || configuration.allowPlaintextAuth)
    }

    // MARK: - MAIL FROM (RFC 5321 §4.1.1.2)

    mutating func mail(_ path: ReversePath, _ parameters: MailParameters) -> [Action] {
        switch phase {
        case .awaitingHelo:
            return error(Reply(.badSequence, .badSequence, "Send HELO/EHLO first"))
        case .transaction:
            return error(Reply(.badSequence, .badSequence, "Sender already specified"))
        default: break
        }
        if configuration.requireTLS, context.tls == nil {
            return error(Reply(.authenticationRequired, .authRequired, "Must issue a STARTTLS command first"))
        }
        if configuration.requireAuthentication, context.authenticatedUser == nil {
            return error(Reply(.authenticationRequired, .authRequired, "Authentication required"))
        }
        let usesExtensions = parameters != MailParameters()
        if usesExtensions, !context.isExtended {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "Parameters not available after HELO"))
        }
        if let size = parameters.size, size > configuration.limits.maxMessageSize {
            // RFC 1870 §6.2
            return error(Reply(.exceededStorage, .messageTooBig, "Message size exceeds fixed maximum message size"))
        }
        if parameters.smtpUTF8, !configuration.smtpUTF8Enabled {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "SMTPUTF8 not supported"))
        }
        if parameters.body == .binaryMIME, !configuration.chunkingEnabled {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "BINARYMIME not supported"))
        }
        if (parameters.dsnReturn != nil || parameters.envelopeID != nil), !configuration.dsnEnabled {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "DSN not supported"))
        }
        if parameters.requireTLS, !configuration.requireTLSOffered {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "REQUIRETLS not supported"))
        }
        if parameters.requireTLS, !protectedForRequireTLS {
            // RFC 8689 §4.1: REQUIRETLS only over TLS (or within this host).
            return error(Reply(.authenticationRequired, .tlsRequired, "REQUIRETLS needs a TLS connection"))
        }
        if let mailbox = path.mailbox, mailbox.isInternationalized, !parameters.smtpUTF8 {
            // RFC 6531 §3.4
            return error(Reply(.mailboxNameNotAllowed, .utf8AddressNotPermitted, "Non-ASCII address needs SMTPUTF8"))
        }
        pending = .hook(.mailFrom(path, parameters))
        return [.runHook(.mailFrom(path, parameters))]
    }

    // MARK: - RCPT TO (RFC 5321 §4.1.1.3)

    mutating func rcpt(_ path: ForwardPath, _ parameters: RcptParameters) -> [Action] {
        guard phase == .transaction, let envelope, incoming == nil else {
            return error(Reply(.badSequence, .badSequence, "Need MAIL before RCPT"))
        }
        recipientAttempts += 1
        if configuration.limits.hardRecipientLimit > 0, recipientAttempts > configuration.limits.hardRecipientLimit {
            // DM09's hard limit: this transaction is refused as a whole at DATA/BDAT.
            return [.reply(Self.hardRecipientLimitReply(at: .rcpt))]
        }
        if envelope.recipients.count >= configuration.limits.maxRecipients {
            // RFC 5321 §4.5.3.1.10: 452 lets the client send the rest in another transaction;
            // a normal event for big mailings, so it does not count towards the error limit.
            return [.reply(Reply(.insufficientStorage, .tooManyRecipients, "Too many recipients"))]
        }
        if parameters != RcptParameters(), !context.isExtended {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "Parameters not available after HELO"))
        }
        if parameters != RcptParameters(), !configuration.dsnEnabled {
            return error(Reply(.parametersNotRecognized, .invalidArguments, "DSN not supported"))
        }
        if let mailbox = path.mailbox, mailbox.isInternationalized, !envelope.parameters.smtpUTF8 {
            return error(Reply(.mailboxNameNotAllowed, .utf8AddressNotPermitted, "Non-ASCII address needs SMTPUTF8"))
        }
        let recipient = EnvelopeRecipient(path: path, parameters: parameters)
        pending = .hook(.rcptTo(recipient, envelope))
        return [.runHook(.rcptTo(recipient, envelope))]
    }

    // MARK: - RSET (RFC 5321 §4.1.1.5)

    mutating func resetTransaction() {
        envelope = nil
        recipientAttempts = 0
        incoming = nil
        dataRate = nil
        pendingChunk = nil
        framer.resetMessage()
        if phase == .transaction || phase == .receivingData || phase == .committing { phase = restingPhase }
    }

    /// Where the session rests outside a transaction.
    var restingPhase: Phase {
        if envelope != nil { return .transaction }
        return context.heloName == nil ? .awaitingHelo : .ready
    }

    // MARK: - STARTTLS (RFC 3207 §4)

    mutating func startTLS() -> [Action] {
        guard configuration.startTLSAvailable, context.tls == nil else {
            if context.tls != nil {
                return error(Reply(.badSequence, .badSequence, "TLS already active"))
            }
            return error(Reply(.commandNotImplemented, .invalidCommand, "STARTTLS not available"))
        }
        guard phase == .ready || phase == .awaitingHelo else {
            return error(Reply(.badSequence, .badSequence, "STARTTLS not allowed in a transaction"))
        }
        pending = .startTLS
        return [.reply(Reply(.serviceReady, EnhancedStatusCode(2, 0, 0), "Ready to start TLS")), .startTLS]
    }

    /// TLS is established: forget everything learnt before it (RFC 3207 §4.2) and drop any
    /// plaintext that was pipelined behind STARTTLS.
    public mutating func tlsEstablished(_ details: TLSDetails) {
        framer.reset()
        context.tls = details
        context.heloName = nil
        context.isExtended = false
        context.authenticatedUser = nil
        envelope = nil
        if phase != .closed { phase = details.implicit ? phase : .awaitingHelo }
        if pending == .startTLS { pending = nil }
    }

    /// The TLS handshake failed: the connection is unusable.
    public mutating func tlsFailed() -> [Action] {
        close()
    }
}
