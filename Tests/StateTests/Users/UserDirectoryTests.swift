import Defenses
import Foundation
import NIOCore
import SMTPCore
import StatePostgres
import StateSQLite
import Testing

/// Password hashes (libxcrypt), the user directory (memory and SQLite) and AUTH with brute-force lockout.
@Suite("User directory and AUTH")
struct UserDirectoryTests {
    @Test func yescryptHashesVerifyAndDiffer() async throws {
        let first = try await PasswordHash.make("correct horse")
        let second = try await PasswordHash.make("correct horse")
        #expect(first.hasPrefix("$y$") && second.hasPrefix("$y$") && first != second)   // a fresh salt each time
        #expect(await PasswordHash.verify("correct horse", against: first))
        #expect(!(await PasswordHash.verify("correct horsE", against: first)))
        #expect(!(await PasswordHash.verify("", against: first)))
        await #expect(throws: PasswordHash.Failure.unusablePassword) { try await PasswordHash.make("") }
    }

    /// Hashes made by another program (Python's crypt module over the system libcrypt): SHA-512-crypt
    /// is accepted, MD5-crypt and DES are refused even with the right password.
    @Test func importedHashes() async throws {
        let script = """
            import crypt, json
            print(json.dumps({"sha512": crypt.crypt("pw1", crypt.mksalt(crypt.METHOD_SHA512)),
                              "md5": crypt.crypt("pw1", crypt.mksalt(crypt.METHOD_MD5)),
                              "des": crypt.crypt("pw1", "ab")}))
            """
        let output = try await Self.python(["-W", "ignore", "-c", script])
        let hashes = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String])
        #expect(await PasswordHash.verify("pw1", against: try #require(hashes["sha512"])))
        #expect(!(await PasswordHash.verify("pw2", against: try #require(hashes["sha512"]))))
        #expect(!(await PasswordHash.verify("pw1", against: try #require(hashes["md5"]))))
        #expect(!(await PasswordHash.verify("pw1", against: try #require(hashes["des"]))))
    }

    static func python(_ arguments: [String]) async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }   // never block the pool
        return try String(contentsOf: out, encoding: .utf8)
    }

    enum Directory: String, CaseIterable, CustomStringConvertible {
        case memory, sqlite
        var description: String { rawValue }
        func make() throws -> any UserDirectory {
            switch self {
            case .memory: return MemoryUserDirectory()
            case .sqlite: return try SQLiteUserDirectory(path: NSTemporaryDirectory() + "mailnode-users-\(UUID().uuidString).sqlite")
            }
        }
    }

    @Test("names and aliases share one address space; removing a user removes its aliases", arguments: Directory.allCases)
    func directoryContract(kind: Directory) async throws {
        try await Self.contract(try kind.make())
    }

    /// The same contract over the PostgreSQL state store's directory (a real server, docs/state.md).
    @Test func postgresDirectoryContract() async throws {
        try await PostgresTestServer.with { server in
            let store = PostgresStateStore(configuration: server.configuration)
            let result: Result<Void, any Error>
            do {
                try await store.prepare()
                try await Self.contract(store.users)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            await store.shutdown()
            try result.get()
        }
    }

    /// Two nodes (two stores, two pools) adding users that claim one alias at the same moment:
    /// the advisory lock serialises them, exactly one gets the address, and a third node sees it.
    @Test func postgresNodesCannotBothTakeOneAddress() async throws {
        try await PostgresTestServer.with { server in
            let stores = (0..<3).map { _ in PostgresStateStore(configuration: server.configuration) }
            let result: Result<Void, any Error>
            do {
                for store in stores { try await store.prepare() }
                for round in 0..<10 {
                    let outcomes = await withTaskGroup(of: String.self) { group in
                        for index in 0..<2 {
                            let users = stores[index].users
                            group.addTask {
                                do {
                                    try await users.add(MailUser(name: "u\(round)-\(index)@example.org", passwordHash: "$y$x",
                                                                 aliases: ["shared\(round)@example.org"]))
                                    return "added"
                                } catch let error as UserDirectoryError {
                                    return "\(error)"
                                } catch {
                                    return "other error: \(String(reflecting: error))"
                                }
                            }
                        }
                        var all: [String] = []
                        for await outcome in group { all.append(outcome) }
                        return all.sorted()
                    }
                    // The loser is told who has the address (not a unique-key violation from the server).
                    #expect(outcomes.count == 2 && outcomes[0] == "added"
                            && outcomes[1].hasPrefix("shared\(round)@example.org already belongs to u\(round)-"), "round \(round): \(outcomes)")
                    let owner = try await stores[2].users.user(forAddress: "shared\(round)@example.org")
                    #expect(owner?.name.hasPrefix("u\(round)-") == true)
                }
                #expect(try await stores[2].users.all().count == 10)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            for store in stores { await store.shutdown() }
            try result.get()
        }
    }

    static func contract(_ users: any UserDirectory) async throws {
        try await users.add(MailUser(name: "Alice@Example.org", passwordHash: "$y$x", aliases: ["a@example.org", "ALI@example.org"]))
        #expect(try await users.user(named: "alice@example.org")?.aliases.sorted() == ["a@example.org", "ali@example.org"])
        #expect(try await users.user(forAddress: "ALI@example.org")?.name == "alice@example.org")
        await #expect(throws: UserDirectoryError.exists("alice@example.org")) {
            try await users.add(MailUser(name: "alice@example.org", passwordHash: "$y$y"))
        }
        await #expect(throws: UserDirectoryError.addressTaken("a@example.org", by: "alice@example.org")) {
            try await users.add(MailUser(name: "bob@example.org", passwordHash: "$y$y", aliases: ["a@example.org"]))
        }
        try await users.add(MailUser(name: "bob@example.org", passwordHash: "$y$y"))
        await #expect(throws: UserDirectoryError.addressTaken("bob@example.org", by: "bob@example.org")) {
            try await users.setAliases(["bob@example.org"], for: "alice@example.org")
        }
        try await users.setPasswordHash("$y$new", for: "BOB@example.org")
        #expect(try await users.user(named: "bob@example.org")?.passwordHash == "$y$new")
        await #expect(throws: UserDirectoryError.noSuchUser("carol@example.org")) { try await users.setPasswordHash("$y$z", for: "carol@example.org") }
        #expect(try await users.all().map(\.name) == ["alice@example.org", "bob@example.org"])
        #expect(try await users.remove("alice@example.org"))
        #expect(try await users.user(forAddress: "a@example.org") == nil)
        #expect(!(try await users.remove("alice@example.org")))
        // The users as DM19's recipient directory.
        let recipients = UserRecipientDirectory(users)
        #expect(await recipients.lookup(Mailbox(localPart: "Bob", host: .domain("example.org"))) == .exists)
        #expect(await recipients.lookup(Mailbox(localPart: "alice", host: .domain("example.org"))) == .unknown)
    }

    static func session(_ ip: String) throws -> SessionContext {
        SessionContext(sessionID: "s-\(ip)", remoteAddress: try SocketAddress(ipAddress: ip, port: 40_000))
    }

    @Test("AUTH: right, wrong, unknown, disabled; a user locked out after its failures even with the right password; the window moves on",
          arguments: StoreBackend.allCases)
    func authenticatorLockout(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let users = MemoryUserDirectory([MailUser(name: "alice@example.org", passwordHash: try await PasswordHash.make("right")),
                                             MailUser(name: "eve@example.org", passwordHash: try await PasswordHash.make("x"), disabled: true)])
            let clock = TestClock()
            let auth = DirectoryAuthenticator(users: users, store: store,
                                                        configuration: .init(maxFailuresPerUser: 3, maxFailuresPerClient: 5, window: .seconds(600)),
                                                        now: clock.function)
            let client = try Self.session("192.0.2.10")
            #expect(await auth.authenticate(Credentials(username: "Alice@example.org", password: "right"), session: client)
                    == .success(identity: "alice@example.org"))
            #expect(await auth.authenticate(Credentials(username: "nobody@example.org", password: "right"), session: client) == .invalidCredentials)
            #expect(await auth.authenticate(Credentials(username: "eve@example.org", password: "x"), session: client) == .invalidCredentials)
            // Three wrong passwords for alice from elsewhere: alice is locked out, whatever the password, from anywhere.
            let attacker = try Self.session("203.0.113.66")
            for _ in 0..<3 {
                #expect(await auth.authenticate(Credentials(username: "alice@example.org", password: "guess"), session: attacker) == .invalidCredentials)
            }
            #expect(await auth.authenticate(Credentials(username: "alice@example.org", password: "right"), session: client) == .temporaryFailure)
            // The window moves on: alice can log in again.
            clock.advance(700)
            #expect(await auth.authenticate(Credentials(username: "alice@example.org", password: "right"), session: client)
                    == .success(identity: "alice@example.org"))
            // A client spraying many names is locked out per address.
            for index in 0..<5 {
                _ = await auth.authenticate(Credentials(username: "u\(index)@example.org", password: "p"), session: attacker)
            }
            #expect(await auth.authenticate(Credentials(username: "alice@example.org", password: "right"), session: attacker) == .temporaryFailure)
            #expect(await auth.authenticate(Credentials(username: "alice@example.org", password: "right"), session: client)
                    == .success(identity: "alice@example.org"))
        }
    }
}
