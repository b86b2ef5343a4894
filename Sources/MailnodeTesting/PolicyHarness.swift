import Foundation
import NIOCore
import SMTPCore

/// Runs your ``SMTPCore/SessionHooks`` — a policy of your own, or mailnode's mechanisms — inside a
/// real ``SMTPCore/SMTPSession`` without sockets, so a policy is unit-tested with the same
/// protocol engine, replies and hook order a node uses.
///
/// ```swift
/// import MailnodeTesting
///
/// var smtp = PolicyHarness(hooks: MyPolicy(), client: "198.51.100.7")
/// #expect(await smtp.start()?.code.rawValue == 220)
/// #expect(await smtp.command("EHLO client.example")?.code.rawValue == 250)
/// #expect(await smtp.command("MAIL FROM:<a@example.org>")?.code.rawValue == 550)
/// print(smtp.transcript.joined(separator: "\n"))   // C: / S: lines
/// ```
///
/// Messages are kept in memory (``messages``), not spooled; STARTTLS is not available (use a
/// live server for TLS); AUTH goes to the `authenticate` closure. Time is the harness's own
/// clock: ``advance(by:)`` moves it to test timeouts.
public struct PolicyHarness {
    /// What the client would see, and what it sent: `C: …` and `S: …` lines.
    public private(set) var transcript: [String] = []
    /// Every reply, in order.
    public private(set) var replies: [Reply] = []
    /// The messages the session committed (250), with their envelopes.
    public private(set) var messages: [(envelope: Envelope, data: ByteBuffer)] = []
    /// True once the session closed the connection.
    public private(set) var isClosed = false

    public let hooks: any SessionHooks
    var session: SMTPSession
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var input = ByteBuffer()
    var open: ByteBuffer?
    let authenticate: @Sendable (Credentials) async -> AuthenticationResult

    /// - Parameters:
    ///   - hooks: the policy under test.
    ///   - configuration: the session's settings (limits, extensions, AUTH mechanisms).
    ///   - client: the client's IP address as the hooks see it (`session.remoteAddress`).
    ///   - authenticate: answers AUTH (default: every credential is wrong).
    public init(hooks: any SessionHooks, configuration: SMTPSessionConfiguration = SMTPSessionConfiguration(hostname: "mx.test"),
                client: String = "192.0.2.1",
                authenticate: @escaping @Sendable (Credentials) async -> AuthenticationResult = { _ in .invalidCredentials }) {
        self.hooks = hooks
        self.authenticate = authenticate
        var context = SessionContext(sessionID: "H1", remoteAddress: try? SocketAddress(ipAddress: client, port: 40_000),
                                     listenerName: "harness")
        context.localAddress = try? SocketAddress(ipAddress: "127.0.0.1", port: 25)
        session = SMTPSession(configuration: configuration, context: context, now: now)
        session.setAddresses(remote: context.remoteAddress, local: context.localAddress)
    }

    /// The session's context as the hooks see it now (HELO name, authenticated user, attributes).
    public var context: SessionContext { session.context }

    /// Connects: runs the connect hooks and returns the greeting (nil if none came).
    @discardableResult
    public mutating func start() async -> Reply? {
        let before = replies.count
        await perform(session.start())
        await pump()
        return replies.count > before ? replies.last : nil
    }

    /// Sends raw text (CRLFs included) and returns the replies it produced.
    @discardableResult
    public mutating func send(_ text: String) async -> [Reply] {
        let before = replies.count
        // "\r\n" is one Character in Swift: split the text on its scalars' line ends instead.
        for line in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        where !line.isEmpty {
            transcript.append("C: " + line)
        }
        input.writeString(text)
        await pump()
        return Array(replies[before...])
    }

    /// Sends one command line (CRLF added) and returns its last reply.
    @discardableResult
    public mutating func command(_ line: String) async -> Reply? {
        await send(line + "\r\n").last
    }

    /// Sends a whole message after DATA's 354 (dot-stuffed for you) and returns the final reply.
    @discardableResult
    public mutating func data(_ message: String) async -> Reply? {
        let lines = message.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        let stuffed = lines.map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
        return await send(stuffed + (stuffed.hasSuffix("\r\n") ? "" : "\r\n") + ".\r\n").last
    }

    /// Moves the harness's clock and lets the session's timeouts fire; returns their replies.
    @discardableResult
    public mutating func advance(by duration: Duration) async -> [Reply] {
        let before = replies.count
        now = now + .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        await perform(session.checkTimeout(now: now))
        return Array(replies[before...])
    }

    mutating func pump() async {
        while !session.isSuspended, !session.isClosed, let actions = session.step(&input, now: now) {
            await perform(actions)
        }
    }

    mutating func perform(_ actions: [SMTPSession.Action]) async {
        for action in actions {
            switch action {
            case .reply(let reply):
                replies.append(reply)
                transcript.append(contentsOf: "\(reply)".split(separator: "\r\n").map { "S: " + $0 })
            case .close:
                isClosed = true
            case .startTLS:
                // No TLS without sockets: report it as failed, as a broken handshake would.
                await perform(session.tlsFailed())
            case .runHook(let call):
                let decision = await run(call)
                await perform(session.hookCompleted(decision, now: now))
            case .authenticate(let credentials):
                let result = await authenticate(credentials)
                await perform(session.authenticationCompleted(result, now: now))
            case .openMessage:
                open = ByteBuffer()
                await perform(session.messageOpened(success: true, now: now))
            case .writeMessageData(var chunk):
                open?.writeBuffer(&chunk)
            case .commitMessage:
                let data = open ?? ByteBuffer()
                open = nil
                if let envelope = session.currentEnvelope { messages.append((envelope, data)) }
                let id = "H\(messages.count)"
                await perform(session.commitCompleted(CommitResult(reply: Reply(.ok, EnhancedStatusCode(2, 0, 0), "Queued as \(id)"),
                                                                   queueID: id), now: now))
            case .abortMessage:
                open = nil
            }
        }
    }

    func run(_ call: SMTPSession.HookCall) async -> HookDecision {
        let context = session.context
        switch call {
        case .connected: return await hooks.connected(context)
        case .helo(let host): return await hooks.helo(host, session: context)
        case .mailFrom(let path, let parameters): return await hooks.mailFrom(path, parameters: parameters, session: context)
        case .rcptTo(let recipient, let envelope): return await hooks.rcptTo(recipient, envelope: envelope, session: context)
        case .dataStart(let envelope): return await hooks.dataStart(envelope, session: context)
        case .dataEnd(let envelope, let summary): return await hooks.dataEnd(envelope, summary: summary, session: context)
        }
    }
}
