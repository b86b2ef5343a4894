import NIOCore
import SMTPCore

/// libFuzzer's driver (`LLVMFuzzerRunDriver`, libFuzzer ≥ 11). SwiftPM links an executable
/// target's entry point as `<Target>_main`; we define that and hand control to libFuzzer.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("FuzzSMTPInput_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
}

/// Feeds arbitrary bytes through everything that reads client input: the command parser, the
/// reply parser, and the session state machine (which drives the framer through command, AUTH,
/// DATA and BDAT modes as the input dictates). Any crash, trap or sanitizer report is a bug;
/// wrong answers are the unit tests' business.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    _ = try? CommandParser().parse(ByteBuffer(bytes: bytes))

    var replies = ReplyParser()
    var replyInput = ByteBuffer(bytes: bytes)
    while (try? replies.next(from: &replyInput)) != nil {}

    var driver = Driver()
    driver.run(ByteBuffer(bytes: bytes))
    return 0
}

/// Performs a session's actions synchronously with outcomes that vary with the step count.
struct Driver {
    var session: SMTPSession
    var clock: UInt64 = 0

    init() {
        var configuration = SMTPSessionConfiguration(hostname: "fuzz.test")
        configuration.authMechanisms = ["PLAIN", "LOGIN"]
        configuration.allowPlaintextAuth = true
        configuration.startTLSAvailable = true
        configuration.limits.maxMessageSize = 4096
        configuration.limits.maxRecipients = 50
        session = SMTPSession(configuration: configuration, context: SessionContext(sessionID: "F"), now: .uptimeNanoseconds(0))
    }

    var now: NIODeadline { .uptimeNanoseconds(clock) }

    mutating func run(_ bytes: ByteBuffer) {
        var input = bytes
        perform(session.start())
        while !session.isClosed, !session.isSuspended, let actions = session.step(&input, now: now) {
            clock += 1
            perform(actions)
        }
        perform(session.checkTimeout(now: now + .hours(2)))
    }

    mutating func perform(_ actions: [SMTPSession.Action]) {
        for action in actions {
            clock += 1
            switch action {
            case .runHook:
                perform(session.hookCompleted(clock % 5 == 0 ? .reply(Reply(.mailboxUnavailable, nil, "no")) : .continue, now: now))
            case .authenticate:
                perform(session.authenticationCompleted(clock % 2 == 0 ? .success(identity: "u") : .invalidCredentials, now: now))
            case .openMessage:
                perform(session.messageOpened(success: clock % 7 != 0, now: now))
            case .commitMessage:
                perform(session.commitCompleted(clock % 3 == 0 ? nil : CommitResult(reply: .ok), now: now))
            case .startTLS:
                session.tlsEstablished(TLSDetails(version: "TLS", implicit: false))
            case .reply, .close, .writeMessageData, .abortMessage:
                break
            }
        }
    }
}
