import Foundation
import SMTPCore
import Testing
@testable import MailStore

/// The POP3 state machine without sockets.
@Suite struct POP3SessionTests {
    static func replies(_ actions: [POP3Session.Action]) -> [String] {
        actions.compactMap { if case .send(let text) = $0 { return text } else { return nil } }
    }

    static let drop = Maildrop(user: "alice", mailboxID: 7, uidValidity: 1_700_000_000, messages: [
        StoredMessage(mailboxID: 7, uid: 3, size: 120, internalDate: Date(), flags: [], modSeq: 2, bodyID: "A"),
        StoredMessage(mailboxID: 7, uid: 5, size: 80, internalDate: Date(), flags: [], modSeq: 3, bodyID: "B"),
    ])

    /// A session logged in over TLS.
    static func loggedIn() -> POP3Session {
        var session = POP3Session(implicitTLS: true, canStartTLS: false)
        _ = session.receive(line: "USER alice")
        let actions = session.receive(line: "PASS pw")
        #expect(actions == [.authenticate(Credentials(username: "alice", password: "pw"))])
        #expect(session.authenticationCompleted(.success(identity: "alice")) == [.openMaildrop(user: "alice")])
        #expect(replies(session.maildropOpened(.success(drop))) == ["+OK 2 messages (200 octets)\r\n"])
        return session
    }

    @Test func noCredentialsBeforeSTLSAndCapaSaysSo() {
        var session = POP3Session(implicitTLS: false, canStartTLS: true)
        #expect(Self.replies(session.greeting()) == ["+OK POP3 server ready\r\n"])
        let capa = Self.replies(session.receive(line: "CAPA")).joined()
        #expect(capa.contains("\r\nSTLS\r\n") && !capa.contains("USER") && !capa.contains("SASL") && capa.hasSuffix("\r\n.\r\n"))
        #expect(Self.replies(session.receive(line: "USER alice")) == ["-ERR Use STLS first\r\n"])
        #expect(Self.replies(session.receive(line: "PASS pw")) == ["-ERR Use STLS first\r\n"])
        #expect(Self.replies(session.receive(line: "AUTH PLAIN AGFsaWNlAHB3")) == ["-ERR Use STLS first\r\n"])
        #expect(Self.replies(session.receive(line: "STAT")) == ["-ERR Not allowed now\r\n"])
        #expect(session.receive(line: "STLS") == [.send("+OK Begin TLS negotiation\r\n"), .startTLS])
        #expect(session.isSuspended)
        session.tlsEstablished()
        let after = Self.replies(session.receive(line: "CAPA")).joined()
        #expect(after.contains("USER\r\n") && after.contains("SASL PLAIN\r\n") && !after.contains("STLS"))
        #expect(Self.replies(session.receive(line: "STLS")) == ["-ERR TLS already active\r\n"])
        #expect(Self.replies(session.receive(line: "USER alice")) == ["+OK Send PASS\r\n"])
    }

    @Test func transactionCommands() {
        var session = Self.loggedIn()
        #expect(Self.replies(session.receive(line: "STAT")) == ["+OK 2 200\r\n"])
        #expect(Self.replies(session.receive(line: "LIST")) == ["+OK 2 messages\r\n1 120\r\n2 80\r\n.\r\n"])
        #expect(Self.replies(session.receive(line: "UIDL 2")) == ["+OK 2 1700000000.5\r\n"])
        #expect(Self.replies(session.receive(line: "LIST 3")) == ["-ERR No such message\r\n"])
        #expect(session.receive(line: "RETR 2") == [.retrieve(Self.drop.messages[1], lines: nil)])
        #expect(session.isSuspended)
        session.retrievalCompleted()
        #expect(session.receive(line: "TOP 1 5") == [.retrieve(Self.drop.messages[0], lines: 5)])
        session.retrievalCompleted()
        #expect(Self.replies(session.receive(line: "DELE 1")) == ["+OK Message 1 deleted\r\n"])
        #expect(Self.replies(session.receive(line: "DELE 1")) == ["-ERR No such message\r\n"])
        #expect(Self.replies(session.receive(line: "RETR 1")) == ["-ERR No such message\r\n"])
        #expect(Self.replies(session.receive(line: "STAT")) == ["+OK 1 80\r\n"])
        #expect(Self.replies(session.receive(line: "UIDL")) == ["+OK\r\n2 1700000000.5\r\n.\r\n"])
        #expect(Self.replies(session.receive(line: "RSET")) == ["+OK 2 messages\r\n"])
        _ = session.receive(line: "DELE 2")
        #expect(Self.replies(session.receive(line: "USER bob")) == ["-ERR Already authenticated\r\n"])
        #expect(session.receive(line: "QUIT") == [.update(mailboxID: 7, uids: [5])])
        #expect(session.updateCompleted(true) == [.send("+OK Bye\r\n"), .close])
        #expect(session.isClosed)
    }

    /// Each bad command gets -ERR and the session goes on, until the error limit.
    @Test func badCommandsAreAnsweredThenTheLimitCloses() {
        var session = POP3Session(limits: POP3Limits(maxErrors: 4), implicitTLS: true, canStartTLS: false)
        #expect(Self.replies(session.receive(line: "HELO x")) == ["-ERR Unknown command\r\n"])
        #expect(Self.replies(session.receive(.tooLong)) == ["-ERR Line too long\r\n"])
        #expect(Self.replies(session.receive(line: "")) == ["-ERR Empty command\r\n"])
        #expect(!session.isClosed)
        #expect(Self.replies(session.receive(line: "CAPA")).count == 1)
        #expect(session.receive(line: "RETR x") == [.send("-ERR Too many errors, closing\r\n"), .close])
        #expect(session.isClosed)
    }

    @Test func authPlainWithAndWithoutInitialResponse() {
        var session = POP3Session(implicitTLS: true, canStartTLS: false)
        let credentials = Credentials(username: "alice", password: "p w")
        #expect(session.receive(line: "AUTH PLAIN " + Base64.encode("\0alice\0p w")) == [.authenticate(credentials)])
        #expect(Self.replies(session.authenticationCompleted(.invalidCredentials)) == ["-ERR [AUTH] Authentication failed\r\n"])
        #expect(Self.replies(session.receive(line: "AUTH PLAIN")) == ["+ \r\n"])
        #expect(session.receive(line: Base64.encode("alice\0alice\0p w")) == [.authenticate(Credentials(authorizationID: "alice", username: "alice", password: "p w"))])
        #expect(Self.replies(session.authenticationCompleted(.temporaryFailure)) == ["-ERR [SYS/TEMP] Try again later\r\n"])
        _ = session.receive(line: "AUTH PLAIN")
        #expect(Self.replies(session.receive(line: "*")) == ["-ERR Authentication cancelled\r\n"])
        #expect(Self.replies(session.receive(line: "AUTH PLAIN !!!")) == ["-ERR [AUTH] Invalid response\r\n"])
        #expect(Self.replies(session.receive(line: "AUTH PLAIN " + Base64.encode("bob\0alice\0pw"))) == ["-ERR [AUTH] Authentication failed\r\n"])
        #expect(Self.replies(session.receive(line: "AUTH CRAM-MD5")) == ["-ERR Unsupported mechanism\r\n"])
    }

    @Test func threeFailedLoginsCloseAndASecondSessionFindsTheMailboxInUse() {
        var session = POP3Session(implicitTLS: true, canStartTLS: false)
        for attempt in 1...3 {
            _ = session.receive(line: "USER alice")
            _ = session.receive(line: "PASS wrong")
            let actions = session.authenticationCompleted(.invalidCredentials)
            #expect(actions.contains(.close) == (attempt == 3))
        }
        var second = POP3Session(implicitTLS: true, canStartTLS: false)
        _ = second.receive(line: "USER alice")
        _ = second.receive(line: "PASS pw")
        _ = second.authenticationCompleted(.success(identity: "alice"))
        #expect(Self.replies(second.maildropOpened(.failure(.inUse))) == ["-ERR [IN-USE] Mailbox in use by another session\r\n"])
        #expect(!second.isClosed && second.maildrop == nil)
    }
}
