import Foundation

/// A read-only view of a spool directory for operators (`mailnode queue list|show`), like
/// Postfix's `postqueue -p`: safe while the node runs — it reads `queue/` and `state/` and never
/// writes, creates or locks anything.
public struct SpoolListing: Sendable {
    /// One queued message with where its delivery stands.
    public struct Item: Sendable, Hashable, Codable {
        public struct Recipient: Sendable, Hashable, Codable {
            public var address: String
            public var status: DeliveryState.Status
            public var attempts: Int
            public var lastResult: String?
            /// The next hop or mail exchanger last tried (nil: not tried yet).
            public var hop: String?
            /// When the sender was sent the delayed-delivery warning for this recipient (nil: not yet).
            public var delayNotified: Date?
        }

        public var id: String
        public var arrival: Date
        /// Message octets as stored (with our trace headers).
        public var size: Int
        public var sender: String
        public var recipients: [Recipient]
        /// Delivery attempts so far and when the next is due (nil: no attempt yet — due now).
        public var attempts: Int
        public var nextAttempt: Date?
        /// The client and session it came from.
        public var client: String?
        public var session: String
        /// Held by an operator (`mailnode queue hold`) since then: not attempted until released.
        public var heldSince: Date?
        /// The most recent reply or error of a recipient still pending.
        public var lastError: String?

        public var held: Bool { heldSince != nil }
    }

    /// Pending recipients per destination, like Postfix's `qshape`: the next hop or mail
    /// exchanger a recipient was last tried at, else (not tried yet) its domain.
    public struct Destination: Sendable, Hashable, Codable {
        public var name: String
        public var recipients: Int
        public var messages: Int
        /// Messages among ``messages`` that are held.
        public var held: Int
    }

    /// The destinations of `items`' pending recipients, most recipients first.
    public static func destinations(_ items: [Item]) -> [Destination] {
        var byName: [String: (recipients: Int, messages: Set<String>, held: Set<String>)] = [:]
        for item in items {
            for recipient in item.recipients where recipient.status == .pending {
                let name = recipient.hop ?? Self.domain(recipient.address)
                byName[name, default: (0, [], [])].recipients += 1
                byName[name]?.messages.insert(item.id)
                if item.held { byName[name]?.held.insert(item.id) }
            }
        }
        return byName.map { Destination(name: $0.key, recipients: $0.value.recipients, messages: $0.value.messages.count, held: $0.value.held.count) }
            .sorted { ($0.recipients, $1.name) > ($1.recipients, $0.name) }
    }

    /// `<u@Example.ORG>` → `example.org`; `<Postmaster>` stays as it is.
    static func domain(_ address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return address }
        return address[address.index(after: at)...].trimmingCharacters(in: CharacterSet(charactersIn: ">")).lowercased()
    }

    /// What could not be read (an entry being removed meanwhile is skipped, not reported).
    public struct Problem: Sendable, Hashable, Codable {
        public var id: String
        public var reason: String
    }

    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Whether `directory` looks like a spool (has `queue/`).
    public var exists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory + "/queue", isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Every committed entry, oldest first, and the entries that could not be read.
    public func items() throws -> (items: [Item], problems: [Problem]) {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/queue").sorted()
        var items: [Item] = []
        var problems: [Problem] = []
        for name in names where !name.hasPrefix(".") {
            do {
                items.append(try item(name))
            } catch SpoolEntry.ParseError.unreadable(_) where !FileManager.default.fileExists(atPath: directory + "/queue/" + name) {
                continue   // delivered and removed while we listed
            } catch {
                problems.append(Problem(id: name, reason: "\(error)"))
            }
        }
        return (items, problems)
    }

    /// One entry by id.
    public func item(_ id: String) throws -> Item {
        guard !id.contains("/"), !id.hasPrefix(".") else { throw SpoolEntry.ParseError.unreadable("not a queue id: \(id)") }
        let entry = try SpoolEntry.load(path: directory + "/queue/" + id)
        let envelope = entry.record.envelope
        let state = savedState(id, recipients: envelope.recipients.count)
        let recipients = envelope.recipients.indices.map { index in
            let saved = state?.recipients[index]
            return Item.Recipient(address: "\(envelope.recipients[index].path)", status: saved?.status ?? .pending,
                                  attempts: saved?.attempts ?? 0, lastResult: saved?.lastResult, hop: saved?.hop,
                                  delayNotified: saved?.delayNotified)
        }
        return Item(id: entry.id, arrival: entry.record.arrival, size: entry.messageSize,
                    sender: "\(envelope.reversePath)", recipients: recipients, attempts: state?.attempts ?? 0,
                    nextAttempt: state?.nextAttempt, client: entry.record.client, session: entry.record.session,
                    heldSince: state?.heldSince, lastError: state?.lastError)
    }

    /// The stored message's header section (up to `limit` octets), for `queue show`.
    public func headerSection(_ id: String, limit: Int = 64 * 1024) throws -> String {
        let entry = try SpoolEntry.load(path: directory + "/queue/" + id)
        guard let handle = FileHandle(forReadingAtPath: entry.path) else { throw SpoolEntry.ParseError.unreadable("cannot open") }
        defer { try? handle.close() }
        var bytes: [UInt8] = []
        for range in entry.messageRanges where bytes.count < limit {
            try handle.seek(toOffset: UInt64(range.lowerBound))
            bytes += [UInt8](try handle.read(upToCount: min(limit - bytes.count, range.count)) ?? Data())
        }
        if let end = bytes.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) ?? bytes.firstRange(of: [0x0A, 0x0A]) {
            return String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func savedState(_ id: String, recipients: Int) -> DeliveryState? {
        guard let data = FileManager.default.contents(atPath: directory + "/state/" + id),
              let state = try? JSONDecoder().decode(DeliveryState.self, from: data),
              state.recipients.count == recipients else { return nil }
        return state
    }
}
