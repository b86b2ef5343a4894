import NIOCore
@testable import SMTPCore

/// Drives an ``SMTPSession`` without sockets: feeds bytes, performs its actions synchronously
/// with programmable hooks, authenticator and receiver, and records what a client would see.
struct SessionHarness {
    var session: SMTPSession
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var hook: (SMTPSession.HookCall) -> HookDecision = { _ in .continue }
    var authenticate: (Credentials) -> AuthenticationResult = { _ in .invalidCredentials }
    var commit: (Envelope, ByteBuffer) -> CommitResult? = { _, _ in CommitResult(reply: Reply(.ok, .ok, "Queued")) }
    var openSucceeds = true

    private(set) var replies: [Reply] = []
    private(set) var closed = false
    private(set) var tlsStarted = false
    private(set) var messages: [(envelope: Envelope, data: String)] = []
    private(set) var aborted = 0
    private(set) var credentialsSeen: [Credentials] = []
    private var open: ByteBuffer?
    private var input = ByteBuffer()

    init(_ configuration: SMTPSessionConfiguration = .init(hostname: "mx.test"), greet: Bool = true, remoteAddress: SocketAddress? = nil) {
        session = SMTPSession(configuration: configuration, context: SessionContext(sessionID: "T1", remoteAddress: remoteAddress), now: now)
        if greet { start() }
    }

    mutating func start() {
        perform(session.start())
    }

    /// Sends raw bytes and returns the replies they produced.
    @discardableResult
    mutating func send(_ text: String) -> [Reply] {
        input.writeString(text)
        return pump()
    }

    @discardableResult
    mutating func send(bytes: [UInt8]) -> [Reply] {
        input.writeBytes(bytes)
        return pump()
    }

    @discardableResult
    mutating func pump() -> [Reply] {
        let before = replies.count
        while !session.isSuspended, !session.isClosed, let actions = session.step(&input, now: now) {
            perform(actions)
        }
        return Array(replies[before...])
    }

    /// Codes of the replies produced by `text`.
    mutating func codes(_ text: String) -> [Int] {
        send(text).map(\.code.rawValue)
    }

    mutating func establishTLS(clientCertificateNames: [String] = []) {
        session.tlsEstablished(TLSDetails(version: "TLSv1.3", implicit: false, clientCertificateNames: clientCertificateNames))
        pump()
    }

    mutating func advance(seconds: Int64) -> [Reply] {
        now = now + .seconds(seconds)
        let before = replies.count
        perform(session.checkTimeout(now: now))
        return Array(replies[before...])
    }

    mutating func shutdown() -> [Reply] {
        let before = replies.count
        perform(session.requestShutdown())
        return Array(replies[before...])
    }

    mutating func perform(_ actions: [SMTPSession.Action]) {
        for action in actions {
            switch action {
            case .reply(let reply):
                replies.append(reply)
            case .close:
                closed = true
            case .startTLS:
                tlsStarted = true
                input.clear()
            case .runHook(let call):
                perform(session.hookCompleted(hook(call), now: now))
            case .authenticate(let credentials):
                credentialsSeen.append(credentials)
                perform(session.authenticationCompleted(authenticate(credentials), now: now))
            case .openMessage:
                open = openSucceeds ? ByteBuffer() : nil
                perform(session.messageOpened(success: openSucceeds, now: now))
            case .writeMessageData(var chunk):
                open?.writeBuffer(&chunk)
            case .commitMessage:
                let data = open ?? ByteBuffer()
                open = nil
                let envelope = session.currentEnvelope!
                let result = commit(envelope, data)
                if result?.reply.code.isPositiveCompletion == true {
                    messages.append((envelope, String(buffer: data)))
                }
                perform(session.commitCompleted(result, now: now))
            case .abortMessage:
                aborted += 1
                open = nil
            }
        }
    }
}

extension SMTPSessionConfiguration {
    static func test(_ change: (inout SMTPSessionConfiguration) -> Void = { _ in }) -> SMTPSessionConfiguration {
        var configuration = SMTPSessionConfiguration(hostname: "mx.test")
        change(&configuration)
        return configuration
    }
}
