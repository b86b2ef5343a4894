import Logging
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import NIOSSL

/// One SMTP or LMTP client connection: greeting, EHLO/LHLO, STARTTLS, AUTH, then any number
/// of transactions (``send(envelope:message:size:)``), then ``quit()``.
///
/// ```swift
/// let connection = try await SMTPClientConnection.connect(host: "mx.example.org", port: 25)
/// let result = await connection.send(envelope: envelope, message: body)
/// try await connection.quit()
/// ```
///
/// The actor runs on its channel's event loop (its executor), so it drives the NIO handler
/// without hops. Transactions on one connection are serial; a second concurrent ``send``
/// fails with ``SMTPClientError/connectionUnusable``.
public actor SMTPClientConnection {
    public nonisolated let host: String
    public nonisolated let port: Int
    public nonisolated let configuration: SMTPClientConfiguration
    nonisolated let channel: any Channel
    let handler: NIOLoopBound<SMTPClientChannelHandler>
    var logger: Logger

    /// The server's `220` greeting.
    public internal(set) var greeting: Reply?
    /// What the server announced in its latest EHLO/LHLO (after STARTTLS: the post-TLS set).
    public internal(set) var capabilities = ServerCapabilities()
    /// True after a successful STARTTLS handshake.
    public internal(set) var isTLS = false
    /// True after `235` to AUTH.
    public internal(set) var isAuthenticated = false
    var transactionCount = 0
    var isBusy = false

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        channel.eventLoop.executor.asUnownedSerialExecutor()
    }

    /// False once the connection broke, timed out, was closed or the server said `421`.
    public var isUsable: Bool { handler.value.isOpen }

    init(host: String, port: Int, configuration: SMTPClientConfiguration, channel: any Channel,
         handler: NIOLoopBound<SMTPClientChannelHandler>, logger: Logger) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.channel = channel
        self.handler = handler
        self.logger = logger
    }

    deinit {
        channel.close(promise: nil)
    }

    // MARK: - Connecting

    /// Connects, reads the greeting, says EHLO (or HELO, or LHLO), applies the TLS policy and
    /// authenticates when credentials are configured.
    ///
    /// - Throws: ``SMTPClientError``; ``SMTPClientError/isPermanent`` classifies it (a `554`
    ///   greeting is permanent for this server, a refused connection or timeout temporary).
    public static func connect(
        host: String,
        port: Int = 25,
        configuration: SMTPClientConfiguration = SMTPClientConfiguration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "mailnode.smtp.client")
    ) async throws(SMTPClientError) -> SMTPClientConnection {
        let maxLineLength = configuration.maxReplyLineLength
        let maxLines = configuration.maxReplyLines
        // The handler of each channel the bootstrap tries, kept as it is installed: a server that
        // greets with 554 and closes at once may tear the pipeline down before this task runs
        // again, and its reply must still be read from the handler, not lost with the pipeline.
        let installed = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<SMTPClientChannelHandler>]>([:])
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(configuration.timeouts.connect)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = SMTPClientChannelHandler(eventLoop: channel.eventLoop,
                                                           maxLineLength: maxLineLength, maxLines: maxLines)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                    installed.withLockedValue { $0[ObjectIdentifier(channel)] = bound }
                }
            }
        var logger = logger
        logger[metadataKey: "smtp.peer"] = "\(host):\(port)"

        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch ChannelError.connectTimeout {
            logger.info("connect timed out")
            throw .timeout(.connect)
        } catch {
            logger.info("connect failed: \(error)")
            throw .connectionFailed(String(describing: error))
        }
        guard let handler = installed.withLockedValue({ $0[ObjectIdentifier(channel)] }) else {
            channel.close(promise: nil)
            throw .connectionClosed(.connect)
        }
        let connection = SMTPClientConnection(host: host, port: port, configuration: configuration,
                                              channel: channel, handler: handler, logger: logger)
        let outcome: Result<Void, SMTPClientError> = await withTaskCancellationHandler {
            do throws(SMTPClientError) {
                try await connection.establish()
                return .success(())
            } catch {
                return .failure(error)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        if case .failure(let error) = outcome {
            await connection.close()
            throw Task.isCancelled ? .cancelled : error
        }
        return connection
    }

    /// Sends `QUIT` (RFC 5321 §4.1.1.10), waits for `221` and closes. The connection is closed
    /// even when this throws.
    public func quit() async throws(SMTPClientError) {
        defer { handler.value.close() }
        guard isUsable else { return }
        let reply = try await command(.quit, stage: .quit, timeout: configuration.timeouts.quit)
        guard reply.code == .closing else { throw .rejected(reply, stage: .quit) }
    }

    /// Closes the connection without QUIT.
    public func close() {
        handler.value.close()
    }

    // MARK: - Session setup

    func establish() async throws(SMTPClientError) {
        let timeouts = configuration.timeouts
        let greeting = try await readReply(stage: .greeting, timeout: timeouts.greeting)
        self.greeting = greeting
        guard greeting.code == .serviceReady else {
            // RFC 5321 §3.1: after a 554 greeting the client sends QUIT and goes elsewhere.
            _ = try? await command(.quit, stage: .quit, timeout: timeouts.quit)
            throw .rejected(greeting, stage: .greeting)
        }
        try await hello()
        try await negotiateTLS()
        try await authenticate()
    }

    /// EHLO, falling back to HELO when the server does not know EHLO (RFC 5321 §3.2); LHLO
    /// in LMTP mode (RFC 2033 §4.1).
    func hello() async throws(SMTPClientError) {
        let name = configuration.heloName
        let timeout = configuration.timeouts.command
        if configuration.mode == .lmtp {
            let reply = try await command(.lhlo(name), stage: .hello, timeout: timeout)
            guard reply.code.isPositiveCompletion else { throw .rejected(reply, stage: .hello) }
            capabilities = ServerCapabilities(ehloReply: reply)
            return
        }
        let reply = try await command(.ehlo(name), stage: .hello, timeout: timeout)
        if reply.code.isPositiveCompletion {
            capabilities = ServerCapabilities(ehloReply: reply)
            return
        }
        let fallbackCodes: Set<ReplyCode> = [.syntaxError, .commandNotImplemented, .parameterNotImplemented, .mailboxUnavailable]
        guard fallbackCodes.contains(reply.code) else { throw .rejected(reply, stage: .hello) }
        let helo = try await command(.helo(name), stage: .hello, timeout: timeout)
        guard helo.code.isPositiveCompletion else { throw .rejected(helo, stage: .hello) }
        capabilities = ServerCapabilities(serverName: String(helo.lines[0].split(separator: " ").first ?? ""),
                                          isExtended: false)
    }

    /// Applies ``ClientTLSPolicy`` (RFC 3207).
    func negotiateTLS() async throws(SMTPClientError) {
        let policy = configuration.tls
        if case .none = policy { return }
        guard capabilities.startTLS else {
            if policy.requiresTLS {
                throw .localPolicy(Reply(.temporaryAuthFailure, EnhancedStatusCode(4, 7, 10),
                                         "TLS required but the server does not offer STARTTLS"), stage: .startTLS)
            }
            logger.debug("STARTTLS not offered, continuing without TLS")
            return
        }
        let reply = try await command(.startTLS, stage: .startTLS, timeout: configuration.timeouts.command)
        guard reply.code == .serviceReady else {
            if policy.requiresTLS { throw .rejected(reply, stage: .startTLS) }
            logger.notice("STARTTLS refused (\(reply)), continuing without TLS")
            return
        }
        let (sslContext, serverName) = try makeSSLContext()
        var verification: NIOSSLCustomVerificationCallback?
        let daneFailure = NIOLockedValueBox<String?>(nil)
        if case .dane(let authentication) = policy {
            let verifier = DANEVerifier(authentication)
            verification = { chain, promise in
                Task {
                    let failure = await verifier.check(chain)
                    daneFailure.withLockedValue { $0 = failure }
                    promise.succeed(failure == nil ? .certificateVerified : .failed)
                }
            }
        }
        do {
            try await handler.value.startTLS(context: sslContext, serverHostname: serverName, verification: verification,
                                             timeout: configuration.timeouts.tlsHandshake).get()
        } catch {
            // The DANE check's own words beat the TLS library's "certificate verify failed".
            if let failure = daneFailure.withLockedValue({ $0 }) {
                logger.notice("TLS handshake failed: \(failure)")
                throw .tlsFailed(failure)
            }
            if let error = error as? SMTPClientError {
                logger.notice("TLS handshake failed: \(error)")
                throw error
            }
            throw .tlsFailed(String(describing: error))
        }
        isTLS = true
        logger.debug("TLS established")
        // RFC 3207 §4.2: forget everything learned before TLS and ask again.
        capabilities = ServerCapabilities()
        try await hello()
    }

    private func makeSSLContext() throws(SMTPClientError) -> (NIOSSLContext, String?) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateChain = configuration.clientCertificateChain
        tls.privateKey = configuration.clientPrivateKey
        let serverName: String?
        if case .verify(let name, let trustRoots) = configuration.tls {
            tls.certificateVerification = .fullVerification
            tls.trustRoots = trustRoots
            serverName = name
        } else if case .dane(let authentication) = configuration.tls {
            // The custom callback (DANEVerifier) replaces the library's checks; it runs only
            // when verification is not `.none`.
            tls.certificateVerification = .noHostnameVerification
            serverName = authentication.baseDomain
        } else {
            tls.certificateVerification = .none
            // SNI carries names only, never address literals (RFC 6066 §3).
            serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        }
        do {
            return (try NIOSSLContext(configuration: tls), serverName)
        } catch {
            throw .tlsFailed("cannot build TLS context: \(error)")
        }
    }

    /// AUTH PLAIN or LOGIN (RFC 4954, RFC 4616) when credentials are configured.
    func authenticate() async throws(SMTPClientError) {
        guard let credentials = configuration.credentials else { return }
        // DESIGN §3.4: credentials only ever travel over TLS unless explicitly allowed.
        guard isTLS || configuration.allowPlaintextAuthentication else {
            throw .localPolicy(Reply(.temporaryAuthFailure, EnhancedStatusCode(4, 7, 11),
                                     "Refusing to send credentials over a connection without TLS"), stage: .auth)
        }
        let offered = capabilities.authMechanisms
        guard let mechanism = configuration.authenticationMechanisms.first(where: { offered.contains($0.rawValue) }) else {
            throw .localPolicy(Reply(.temporaryAuthFailure, .temporaryAuthFailure,
                                     "No usable AUTH mechanism (server offers: \(offered.joined(separator: " ")))"),
                               stage: .auth)
        }
        let timeout = configuration.timeouts.command
        var reply: Reply
        switch mechanism {
        case .plain:
            // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd
            let message = Array((credentials.authorizationIdentity ?? "").utf8) + [0]
                + Array(credentials.username.utf8) + [0] + Array(credentials.password.utf8)
            let response = ClientBase64.encode(message)
            reply = try await command(.auth(mechanism: "PLAIN", initialResponse: response), stage: .auth, timeout: timeout)
            if reply.code == .authContinue {
                reply = try await sendSecret(response, timeout: timeout)
            }
        case .login:
            reply = try await command(.auth(mechanism: "LOGIN", initialResponse: nil), stage: .auth, timeout: timeout)
            if reply.code == .authContinue {
                reply = try await sendSecret(ClientBase64.encode(credentials.username.utf8), timeout: timeout)
            }
            if reply.code == .authContinue {
                reply = try await sendSecret(ClientBase64.encode(credentials.password.utf8), timeout: timeout)
            }
        }
        guard reply.code == .authenticationSucceeded else {
            if reply.code == .authContinue {
                // RFC 4954 §4: "*" cancels the exchange.
                _ = try? await sendSecret("*", timeout: timeout)
            }
            throw .rejected(reply, stage: .auth)
        }
        isAuthenticated = true
        logger.debug("authenticated with \(mechanism.rawValue)")
    }

    /// An AUTH continuation line; logged as `***`.
    private func sendSecret(_ line: String, timeout: TimeAmount) async throws(SMTPClientError) -> Reply {
        logger.debug("C: ***")
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 2)
        buffer.writeString(line)
        buffer.writeString("\r\n")
        try await write(buffer, stage: .auth, timeout: timeout)
        return try await readReply(stage: .auth, timeout: timeout)
    }

    // MARK: - Wire helpers

    /// Writes one command and reads its reply.
    func command(_ command: Command, stage: SMTPClientStage, timeout: TimeAmount) async throws(SMTPClientError) -> Reply {
        try await sendCommands([command], stage: stage, timeout: timeout)
        return try await readReply(stage: stage, timeout: timeout)
    }

    /// Writes `commands` in one flush (one packet when pipelining, RFC 2920 §3.1).
    func sendCommands(_ commands: [Command], stage: SMTPClientStage, timeout: TimeAmount) async throws(SMTPClientError) {
        var buffer = channel.allocator.buffer(capacity: 128 * commands.count)
        for command in commands {
            let line = command.wireLine
            // An address or parameter carrying CR or LF would smuggle a second command.
            guard !line.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
                throw .localPolicy(Reply(.parameterSyntaxError, .syntaxError, "Line break inside a \(command.verb) command"),
                                   stage: stage)
            }
            logger.debug("C: \(command.redactedLine)")
            buffer.writeString(line)
            buffer.writeString("\r\n")
        }
        try await write(buffer, stage: stage, timeout: timeout)
    }

    func write(_ buffer: ByteBuffer, stage: SMTPClientStage, timeout: TimeAmount) async throws(SMTPClientError) {
        do {
            try await handler.value.write(buffer, stage: stage, timeout: timeout).get()
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw .connectionClosed(stage)
        }
    }

    /// The next reply. A `421` means the server is closing the connection (RFC 5321 §3.8): the
    /// connection is closed and the reply thrown as ``SMTPClientError/rejected(_:stage:)``.
    func readReply(stage: SMTPClientStage, timeout: TimeAmount) async throws(SMTPClientError) -> Reply {
        let reply: Reply
        do {
            reply = try await handler.value.nextReply(stage: stage, timeout: timeout).get()
        } catch let error as SMTPClientError {
            logger.info("no reply at \(stage.rawValue): \(error)")
            throw error
        } catch {
            throw .connectionClosed(stage)
        }
        logger.debug("S: \(reply)")
        if reply.code == .serviceNotAvailable {
            handler.value.close()
            throw .rejected(reply, stage: stage)
        }
        return reply
    }
}
