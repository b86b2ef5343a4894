#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Defenses
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Where a command's untagged responses go while it runs (the connection, or a test's buffer).
/// A write returns once the octets are handed to the connection: back-pressure for big FETCHes.
public protocol IMAPResponseWriter: Sendable {
    func write(_ bytes: [UInt8]) async throws
}

/// The commands of the authenticated and selected states ([RFC 3501 §6.3–6.4](https://www.rfc-editor.org/rfc/rfc3501#section-6.3),
/// RFC 4315 UIDPLUS, RFC 6851 MOVE, RFC 9208 QUOTA) against a ``MailboxStore``. Runs off the
/// event loops; message files are read on the thread pool in 64 KiB chunks.
///
/// After each command the selected mailbox's changes are reported (`EXISTS`, flag `FETCH`,
/// `EXPUNGE`); during FETCH, STORE, SEARCH and COPY by sequence number EXPUNGE is held back
/// (RFC 3501 §7.4.1: numbers must not shift under the client).
public struct IMAPMailboxCommands: Sendable {
    public var store: any MailboxStore
    /// DM35 limits for APPEND and COPY, and what GETQUOTA reports.
    public var quota: QuotaLimits
    public var threadPool: NIOThreadPool
    public var logger: Logger

    public init(store: any MailboxStore, quota: QuotaLimits, threadPool: NIOThreadPool = .singleton,
                logger: Logger = Logger(label: "mailnode.imap")) {
        self.store = store
        self.quota = quota
        self.threadPool = threadPool
        self.logger = logger
    }

    static let chunkSize = 64 * 1024

    public func run(_ request: IMAPRequest, writer: any IMAPResponseWriter) async -> IMAPCommandResult {
        let out = ResponseOutput(writer)
        do {
            var selected = request.selected
            let tagged = try await perform(request, selected: &selected, out: out)
            try await out.flush()
            return IMAPCommandResult(tagged: tagged.map { "\(request.tag) \($0)" }, selected: selected)
        } catch is ResponseOutput.WriteFailed {
            return IMAPCommandResult(tagged: nil, selected: request.selected, close: true)
        } catch {
            logger.error("imap command failed", metadata: ["command": "\(request.command?.verb ?? "IDLE")", "error": "\(error)"])
            try? await out.flush()
            let text = (error as? StoreFileError)?.isDiskFull == true ? "NO [LIMIT] Storage full, try later" : "NO [UNAVAILABLE] Try again later"
            return IMAPCommandResult(tagged: request.command == nil ? nil : "\(request.tag) \(text)", selected: request.selected)
        }
    }

    /// Runs one command; returns the tagged response text (after the tag), nil for a change report.
    private func perform(_ request: IMAPRequest, selected: inout SelectedMailbox?, out: ResponseOutput) async throws -> String? {
        let user = request.user
        guard let command = request.command else {
            if var current = selected {
                try await report(&current, expunges: true, out: out)
                selected = current
            }
            return nil
        }
        var expunges = true
        let tagged: String
        switch command {
        case .noop, .check:
            tagged = "OK \(command.verb) completed"
        case .select(let name), .examine(let name):
            selected = nil   // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected
            guard let box = try await store.mailbox(user: user, name: name) else { return "NO [NONEXISTENT] No such mailbox" }
            let readOnly = if case .examine = command { true } else { false }
            let messages = try await store.messages(in: box.id)
            let firstUnseen = messages.firstIndex { !$0.flags.contains("\\Seen") }
            var lines = [
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
                "* OK [PERMANENTFLAGS \(readOnly ? "()" : "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)")] Flags permitted",
                "* \(messages.count) EXISTS", "* 0 RECENT",
            ]
            if let firstUnseen { lines.append("* OK [UNSEEN \(firstUnseen + 1)] First unseen") }
            lines += ["* OK [UIDVALIDITY \(box.uidValidity)] UIDs valid", "* OK [UIDNEXT \(box.uidNext)] Predicted next UID"]
            try await out.lines(lines)
            selected = SelectedMailbox(info: box, readOnly: readOnly, messages: messages)
            return "OK [\(readOnly ? "READ-ONLY" : "READ-WRITE")] \(command.verb) completed"
        case .create(var name):
            while name.hasSuffix("/") { name.removeLast() }
            guard Self.isValidName(name) else { return "NO [CANNOT] Invalid mailbox name" }
            guard name != "INBOX", try await store.mailbox(user: user, name: name) == nil else { return "NO [ALREADYEXISTS] Mailbox exists" }
            do {
                _ = try await store.createMailbox(user: user, name: name, specialUse: nil)
            } catch StoreError.mailboxExists {
                return "NO [ALREADYEXISTS] Mailbox exists"
            }
            tagged = "OK CREATE completed"
        case .delete(let name):
            guard name != "INBOX" else { return "NO [CANNOT] INBOX cannot be deleted" }
            guard let box = try await store.mailbox(user: user, name: name) else { return "NO [NONEXISTENT] No such mailbox" }
            try await store.deleteMailbox(box.id)
            if selected?.info.id == box.id { selected = nil }
            tagged = "OK DELETE completed"
        case .rename(let from, var to):
            while to.hasSuffix("/") { to.removeLast() }
            guard from != "INBOX", to != "INBOX" else { return "NO [CANNOT] INBOX cannot be renamed here" }
            guard Self.isValidName(to) else { return "NO [CANNOT] Invalid mailbox name" }
            guard let box = try await store.mailbox(user: user, name: from) else { return "NO [NONEXISTENT] No such mailbox" }
            do {
                try await store.renameMailbox(box.id, to: to)
            } catch StoreError.mailboxExists {
                return "NO [ALREADYEXISTS] Target mailbox exists"
            }
            if selected?.info.id == box.id { selected?.info.name = to }
            tagged = "OK RENAME completed"
        case .subscribe(let name), .unsubscribe(let name):
            guard let box = try await store.mailbox(user: user, name: name) else { return "NO [NONEXISTENT] No such mailbox" }
            let subscribe = if case .subscribe = command { true } else { false }
            try await store.setSubscribed(box.id, subscribe)
            tagged = "OK \(command.verb) completed"
        case .list(let reference, let pattern, let subscribedOnly, let specialUseOnly):
            try await list(user: user, reference: reference, pattern: pattern, subscribedOnly: subscribedOnly,
                           specialUseOnly: specialUseOnly, verb: "LIST", out: out)
            tagged = "OK LIST completed"
        case .lsub(let reference, let pattern):
            try await list(user: user, reference: reference, pattern: pattern, subscribedOnly: true, specialUseOnly: false,
                           verb: "LSUB", out: out)
            tagged = "OK LSUB completed"
        case .status(let name, let items):
            guard let box = try await store.mailbox(user: user, name: name) else { return "NO [NONEXISTENT] No such mailbox" }
            let messages = try await store.messages(in: box.id)
            let values = items.map { item -> String in
                let value: String = switch item {
                case .messages: "\(messages.count)"
                case .recent: "0"
                case .uidNext: "\(box.uidNext)"
                case .uidValidity: "\(box.uidValidity)"
                case .unseen: "\(messages.filter { !$0.flags.contains("\\Seen") }.count)"
                case .size: "\(messages.reduce(0) { $0 + $1.size })"
                }
                return "\(item.rawValue) \(value)"
            }
            try await out.lines(["* STATUS \(IMAPEncoding.mailbox(box.name)) (\(values.joined(separator: " ")))"])
            tagged = "OK STATUS completed"
        case .append(let name, let flags, let date, let message):
            guard let box = try await store.mailbox(user: user, name: name) else { return "NO [TRYCREATE] No such mailbox" }
            tagged = try await append(message, to: box, flags: flags, date: date)
        case .close:
            if let current = selected, !current.readOnly {
                try await store.expunge(current.messages.filter { $0.flags.contains("\\Deleted") }.map(\.uid), from: current.info.id)
            }
            selected = nil   // RFC 3501 §6.4.2: no untagged EXPUNGE
            return "OK CLOSE completed"
        case .unselect:
            selected = nil
            return "OK UNSELECT completed"
        case .expunge(let uids):
            guard let current = selected, !current.readOnly else { return "NO [READ-ONLY] Mailbox is read-only" }
            let doomed = current.messages.filter { message in
                message.flags.contains("\\Deleted") && (uids.map { $0.contains(message.uid, largest: current.messages.last?.uid ?? 0) } ?? true)
            }
            try await store.expunge(doomed.map(\.uid), from: current.info.id)
            tagged = "OK EXPUNGE completed"
        case .search(let key, let uid):
            guard let current = selected else { return "BAD No mailbox selected" }
            expunges = uid
            var hits: [String] = []
            for (index, message) in current.messages.enumerated() {
                var content: [UInt8]?
                if key.needsContent { content = try await readBody(message) }
                if matches(key, message, sequence: UInt32(index + 1), in: current, content: content) {
                    hits.append(uid ? "\(message.uid)" : "\(index + 1)")
                }
            }
            try await out.lines(["* SEARCH" + hits.map { " " + $0 }.joined()])
            tagged = "OK SEARCH completed"
        case .fetch(let set, let attributes, let uid):
            guard var current = selected else { return "BAD No mailbox selected" }
            guard let indices = Self.indices(set, uid: uid, in: current) else { return "BAD Invalid message sequence number" }
            expunges = uid
            let failed = try await fetch(indices, attributes, in: &current, out: out)
            selected = current
            tagged = failed ? "NO Some messages could not be read" : "OK FETCH completed"
        case .store(let set, let change, let silent, let uid):
            guard var current = selected else { return "BAD No mailbox selected" }
            guard !current.readOnly else { return "NO [READ-ONLY] Mailbox is read-only" }
            guard let indices = Self.indices(set, uid: uid, in: current) else { return "BAD Invalid message sequence number" }
            expunges = uid
            let updated = try await store.updateFlags(indices.map { current.messages[$0].uid }, in: current.info.id, change)
            let byUID = Dictionary(updated.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
            var lines: [String] = []
            for index in indices {
                guard let message = byUID[current.messages[index].uid] else { continue }
                current.messages[index] = message
                if !silent {
                    lines.append("* \(index + 1) FETCH (" + (uid ? "UID \(message.uid) " : "") + "FLAGS \(IMAPEncoding.flags(message.flags)))")
                }
            }
            try await out.lines(lines)
            selected = current
            tagged = "OK STORE completed"
        case .copy(let set, let name, let uid), .move(let set, let name, let uid):
            guard let current = selected else { return "BAD No mailbox selected" }
            let move = if case .move = command { true } else { false }
            if move, current.readOnly { return "NO [READ-ONLY] Mailbox is read-only" }
            guard let indices = Self.indices(set, uid: uid, in: current) else { return "BAD Invalid message sequence number" }
            guard let target = try await store.mailbox(user: user, name: name) else { return "NO [TRYCREATE] No such mailbox" }
            expunges = uid || move
            let outcome = try await store.copy(indices.map { current.messages[$0].uid }, from: current.info.id, to: target.id,
                                               move: move, quota: quota)
            switch outcome {
            case .overQuota:
                return "NO [OVERQUOTA] Quota exceeded"
            case .copied(let validity, let pairs):
                let code = pairs.isEmpty ? "" : "[COPYUID \(validity) \(SequenceSet.compact(pairs.map(\.source))) \(SequenceSet.compact(pairs.map(\.target)))] "
                if move {
                    if !code.isEmpty { try await out.lines(["* OK \(code)Moved"]) }
                    tagged = "OK MOVE completed"
                } else {
                    tagged = "OK \(code)COPY completed"
                }
            }
        case .getQuotaRoot(let name):
            guard try await store.mailbox(user: user, name: name) != nil else { return "NO [NONEXISTENT] No such mailbox" }
            if quota.isUnlimited {
                try await out.lines(["* QUOTAROOT \(IMAPEncoding.mailbox(name))"])
            } else {
                try await out.lines(["* QUOTAROOT \(IMAPEncoding.mailbox(name)) \"\"", try await quotaLine(user: user)])
            }
            tagged = "OK GETQUOTAROOT completed"
        case .getQuota(let root):
            guard root.isEmpty, !quota.isUnlimited else { return "NO [NONEXISTENT] No such quota root" }
            try await out.lines([try await quotaLine(user: user)])
            tagged = "OK GETQUOTA completed"
        default:
            return "BAD Not allowed now"
        }
        if var current = selected {
            try await report(&current, expunges: expunges, out: out)
            selected = current
        }
        return tagged
    }

    /// `CREATE` names: not empty, no wildcards, no empty hierarchy level.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("*") && !name.contains("%") && !name.hasPrefix("/") && !name.contains("//")
            && name.utf8.count <= 512 && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    // MARK: - Changes

    /// Reports what changed in the selected mailbox since the client last heard: expunged
    /// messages (highest number first, so each number is right when it is read), flag changes,
    /// new messages (`EXISTS`).
    ///
    /// Every change of a mailbox's messages raises its HIGHESTMODSEQ: when it has not moved since
    /// the last report, there is nothing to say and the messages are not read again.
    private func report(_ selected: inout SelectedMailbox, expunges: Bool, out: ResponseOutput) async throws {
        let now = try await store.mailbox(id: selected.info.id)
        if let now, now.highestModSeq == selected.info.highestModSeq, !selected.pendingExpunges { return }
        let current = try await store.messages(in: selected.info.id)
        let byUID = Dictionary(current.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
        var lines: [String] = []
        if expunges {
            for index in selected.messages.indices.reversed() where byUID[selected.messages[index].uid] == nil {
                lines.append("* \(index + 1) EXPUNGE")
                selected.messages.remove(at: index)
            }
        }
        // Expunges held back (numbers must not shift now) are reported at the next chance.
        selected.pendingExpunges = !expunges && selected.messages.contains { byUID[$0.uid] == nil }
        for index in selected.messages.indices {
            guard let now = byUID[selected.messages[index].uid], now.flags != selected.messages[index].flags else { continue }
            selected.messages[index] = now
            lines.append("* \(index + 1) FETCH (FLAGS \(IMAPEncoding.flags(now.flags)))")
        }
        let last = selected.messages.last?.uid ?? 0
        let added = current.filter { $0.uid > last }
        if !added.isEmpty {
            selected.messages += added
            lines.append("* \(selected.messages.count) EXISTS")
        }
        if let now {
            selected.info.uidNext = now.uidNext
            selected.info.highestModSeq = now.highestModSeq
        }
        try await out.lines(lines)
    }

    /// The 0-based positions a set names; nil when a sequence number is beyond the mailbox (RFC 3501 §6.4.8:
    /// UIDs not there are simply skipped).
    static func indices(_ set: SequenceSet, uid: Bool, in selected: SelectedMailbox) -> [Int]? {
        if uid {
            let largest = selected.messages.last?.uid ?? 0
            return selected.messages.indices.filter { set.contains(selected.messages[$0].uid, largest: largest) }
        }
        let count = UInt32(selected.messages.count)
        guard set.ranges.allSatisfy({ ($0.first ?? 0) <= count && ($0.last ?? 0) <= count }) else { return nil }
        return selected.messages.indices.filter { set.contains(UInt32($0 + 1), largest: count) }
    }

    // MARK: - LIST

    private func list(user: String, reference: String, pattern: String, subscribedOnly: Bool, specialUseOnly: Bool,
                      verb: String, out: ResponseOutput) async throws {
        guard !pattern.isEmpty else {
            // RFC 3501 §6.3.8: the hierarchy delimiter and root.
            return try await out.lines(["* \(verb) (\\Noselect) \"/\" \"\""])
        }
        let boxes = try await store.mailboxes(user: user)
        let names = Set(boxes.map(\.name))
        let matcher = MailboxPattern(reference + pattern)
        var lines: [String] = []
        for box in boxes where matcher.matches(box.name) {
            if subscribedOnly, !box.subscribed { continue }
            if specialUseOnly, box.specialUse == nil { continue }
            var attributes: [String] = []
            if verb == "LIST" {
                attributes.append(names.contains { $0.hasPrefix(box.name + "/") } ? "\\HasChildren" : "\\HasNoChildren")
                if let use = box.specialUse { attributes.append(use.rawValue) }
                if subscribedOnly { attributes.append("\\Subscribed") }
            }
            lines.append("* \(verb) (\(attributes.joined(separator: " "))) \"/\" \(IMAPEncoding.mailbox(box.name))")
        }
        try await out.lines(lines)
    }

    // MARK: - APPEND

    /// Stages the message (fsynced file), then files it in one transaction: the `OK` is sent
    /// only when both are on disk (DESIGN.md §3.1).
    private func append(_ message: [UInt8], to box: MailboxInfo, flags: [String], date: Date?) async throws -> String {
        let writer = try store.stage()
        let staged: StagedBody
        do {
            try await writer.write(ByteBuffer(bytes: message))
            staged = try await writer.finish()
        } catch {
            await writer.abort()
            throw error
        }
        return try await file(staged, in: box, flags: flags, date: date)
    }

    /// Before a large APPEND's message streams: nil when it may come, else the refusal (after the tag).
    public func prepareAppend(_ append: IMAPAppend) async -> String? {
        do {
            guard try await store.mailbox(user: append.user, name: append.mailbox) != nil else { return "NO [TRYCREATE] No such mailbox" }
            let usage = try await store.usage(user: append.user)
            if quota.exceeded(by: usage, adding: Int64(append.size)) { return "NO [OVERQUOTA] Quota exceeded" }
            return nil
        } catch {
            logger.error("imap append check failed", metadata: ["error": "\(error)"])
            return "NO [UNAVAILABLE] Try again later"
        }
    }

    /// Files a streamed APPEND's durable body (``BodyWriter/finish()`` done) and reports the
    /// selected mailbox's changes.
    public func appendStaged(_ staged: StagedBody, _ append: IMAPAppend, selected: SelectedMailbox?,
                             writer: any IMAPResponseWriter) async -> IMAPCommandResult {
        let out = ResponseOutput(writer)
        do {
            guard let box = try await store.mailbox(user: append.user, name: append.mailbox) else {
                await store.discard(staged)
                return IMAPCommandResult(tagged: "\(append.tag) NO [TRYCREATE] No such mailbox", selected: selected)
            }
            let text = try await file(staged, in: box, flags: append.flags, date: append.date)
            var selected = selected
            if var current = selected {
                try await report(&current, expunges: true, out: out)
                selected = current
            }
            try await out.flush()
            return IMAPCommandResult(tagged: "\(append.tag) \(text)", selected: selected)
        } catch is ResponseOutput.WriteFailed {
            return IMAPCommandResult(tagged: nil, selected: selected, close: true)
        } catch {
            logger.error("imap append failed", metadata: ["error": "\(error)"])
            return IMAPCommandResult(tagged: "\(append.tag) NO [UNAVAILABLE] Try again later", selected: selected)
        }
    }

    /// Files a durable body into `box` (the store checks quota in the same transaction).
    private func file(_ staged: StagedBody, in box: MailboxInfo, flags: [String], date: Date?) async throws -> String {
        switch try await store.append(staged, to: box.id, flags: flags, internalDate: date ?? Date(), quota: quota) {
        case .stored(let validity, let uid):
            logger.info("appended", metadata: ["mailbox": "\(box.name)", "uid": "\(uid)", "size": "\(staged.size)"])
            return "OK [APPENDUID \(validity) \(uid)] APPEND completed"
        case .overQuota(let usage):
            logger.notice("append over quota", metadata: ["user": "\(box.user)", "bytes": "\(usage.bytes)", "defense": "DM35"])
            return "NO [OVERQUOTA] Quota exceeded"
        }
    }

    // MARK: - QUOTA (RFC 9208)

    /// `* QUOTA "" (STORAGE used limit MESSAGE used limit)`, STORAGE in units of 1024 octets (RFC 9208 §5.1).
    private func quotaLine(user: String) async throws -> String {
        let usage = try await store.usage(user: user)
        var resources: [String] = []
        if quota.bytes > 0 { resources.append("STORAGE \((usage.bytes + 1023) / 1024) \(quota.bytes / 1024)") }
        if quota.messages > 0 { resources.append("MESSAGE \(usage.messages) \(quota.messages)") }
        return "* QUOTA \"\" (\(resources.joined(separator: " ")))"
    }

    // MARK: - FETCH

    /// Returns true when some message could not be read.
    private func fetch(_ indices: [Int], _ attributes: [FetchAttribute], in selected: inout SelectedMailbox,
                       out: ResponseOutput) async throws -> Bool {
        // The whole message (BODY[], RFC822, with or without <partial>) streams from its file;
        // anything that needs the MIME structure reads the message first.
        let needsContent = attributes.contains { attribute in
            switch attribute {
            case .envelope, .bodyStructure: true
            case .body(let section, _): !section.isWholeMessage
            default: false
            }
        }
        let streams = !needsContent && attributes.contains { if case .body = $0 { true } else { false } }
        let marksSeen = !selected.readOnly && attributes.contains { if case .body(_, false) = $0 { true } else { false } }
        var failed = false
        // Small messages are read ahead in batches, many files per trip to the thread pool (a
        // trip costs more than reading a few KiB); a large one is read whole when its structure
        // is needed and streamed from its open file otherwise.
        var readAhead: [Int: Result<[UInt8], any Error>] = [:]
        for (position, index) in indices.enumerated() {
            var message = selected.messages[index]
            var content: [UInt8] = []
            var tree: MIMEEntity?
            // Read (or open) the file before any of the response is out: a missing file costs
            // this message's response (and a NO at the end), not the connection.
            var file: Int32?
            var whole = false
            do {
                if (needsContent || streams) && message.size <= Self.readAheadMessageLimit {
                    if readAhead[index] == nil {
                        let messages = selected.messages
                        readAhead = try await readBatch(indices[position...].lazy.map { ($0, messages[$0]) })
                    }
                    content = try readAhead.removeValue(forKey: index)!.get()
                    whole = true
                } else {
                    if needsContent { content = try await readBody(message); whole = true }
                    if streams && !whole { file = try await openBody(message) }
                }
            } catch {
                logger.error("cannot read message", metadata: ["uid": "\(message.uid)", "error": "\(error)"])
                failed = true
                continue
            }
            defer { if let file { BodyFiles.closeFile(file) } }   // a read-only close: no I/O to wait for
            var flagsChanged = false
            if marksSeen, !message.flags.contains("\\Seen") {
                // RFC 3501 §6.4.5: BODY[…] (not PEEK) sets \Seen.
                if let updated = try await store.updateFlags([message.uid], in: selected.info.id, .add(["\\Seen"])).first {
                    message = updated
                    selected.messages[index] = updated
                    flagsChanged = true
                }
            }
            var response = IMAPResponseBuilder()
            response.append("* \(index + 1) FETCH (")
            var first = true
            func separate() {
                if !first { response.append(" ") }
                first = false
            }
            for attribute in attributes {
                separate()
                switch attribute {
                case .uid: response.append("UID \(message.uid)")
                case .flags: response.append("FLAGS \(IMAPEncoding.flags(message.flags))")
                case .internalDate: response.append("INTERNALDATE \"\(IMAPDates.format(message.internalDate))\"")
                case .rfc822Size: response.append("RFC822.SIZE \(message.size)")
                case .envelope:
                    if tree == nil { tree = MIMEEntity.parse(content) }
                    response.append("ENVELOPE ")
                    tree!.envelope(into: &response)
                case .bodyStructure(let extensible):
                    if tree == nil { tree = MIMEEntity.parse(content) }
                    response.append(extensible ? "BODYSTRUCTURE " : "BODY ")
                    tree!.bodyStructure(content, extensible: extensible, into: &response)
                case .body(let section, _) where section.isWholeMessage && !whole:
                    let start = min(section.partial?.origin ?? 0, message.size)
                    let count = min(section.partial?.count ?? message.size, message.size - start)
                    response.append(section.responseName + " {\(count)}\r\n")
                    try await out.write(response.bytes)
                    response = IMAPResponseBuilder()
                    do {
                        try await streamBody(file!, path: store.bodyPath(message.bodyID), from: start, count: count, out: out)
                    } catch let error as StoreFileError {
                        // The literal's length is out: the response cannot be ended honestly.
                        logger.error("message read failed mid-response", metadata: ["uid": "\(message.uid)", "error": "\(error)"])
                        throw ResponseOutput.WriteFailed()
                    }
                case .body(let section, _):
                    var octets: [UInt8]
                    if section.isWholeMessage {
                        octets = content
                    } else {
                        if tree == nil { tree = MIMEEntity.parse(content) }
                        octets = tree!.octets(of: section, in: content) ?? []
                    }
                    if let partial = section.partial {
                        let start = min(partial.origin, octets.count)
                        octets = Array(octets[start..<min(octets.count, start + partial.count)])
                    }
                    response.append(section.responseName + " {\(octets.count)}\r\n")
                    response.append(octets)
                }
            }
            if flagsChanged, !attributes.contains(.flags) {
                separate()
                response.append("FLAGS \(IMAPEncoding.flags(message.flags))")
            }
            response.append(")\r\n")
            try await out.write(response.bytes)
        }
        return failed
    }

    /// Messages up to this size are read ahead in batches.
    static let readAheadMessageLimit = 64 * 1024
    /// A batch ends after this many octets or messages.
    static let readAheadBytes = 512 * 1024
    static let readAheadMessages = 128

    /// Reads the files of the next small messages of `upcoming` (index and message, in FETCH
    /// order) in one trip to the thread pool: from the first, while each is small and the batch
    /// is within ``readAheadBytes`` and ``readAheadMessages``. Each message gets its bytes or its
    /// own error.
    private func readBatch(_ upcoming: some Sequence<(Int, StoredMessage)>) async throws -> [Int: Result<[UInt8], any Error>] {
        var batch: [(index: Int, path: String, size: Int)] = []
        var total = 0
        for (index, message) in upcoming {
            guard message.size <= Self.readAheadMessageLimit, batch.count < Self.readAheadMessages,
                  batch.isEmpty || total + message.size <= Self.readAheadBytes else { break }
            batch.append((index, store.bodyPath(message.bodyID), message.size))
            total += message.size
        }
        let entries = batch
        return try await threadPool.runIfActive {
            var results: [Int: Result<[UInt8], any Error>] = [:]
            for entry in entries {
                results[entry.index] = Result { try Self.readFile(entry.path, size: entry.size) }
            }
            return results
        }
    }

    /// Reads `size` octets of the file at `path` (on the calling thread: the thread pool's).
    private static func readFile(_ path: String, size: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreFileError(operation: "open", path: path, code: errno) }
        defer { BodyFiles.closeFile(fd) }
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while offset < size {
                let count = pread(fd, buffer.baseAddress! + offset, min(chunkSize, size - offset), off_t(offset))
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { throw StoreFileError(operation: "read", path: path, code: count == 0 ? EIO : errno) }
                offset += count
            }
        }
        return bytes
    }

    /// Opens a message's file on the thread pool.
    private func openBody(_ message: StoredMessage) async throws -> Int32 {
        let path = store.bodyPath(message.bodyID)
        return try await threadPool.runIfActive { () throws -> Int32 in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw StoreFileError(operation: "open", path: path, code: errno) }
            return fd
        }
    }

    /// Writes `count` octets of the message from `offset`, read on the thread pool in 64 KiB
    /// chunks, each handed to the connection before the next is read.
    private func streamBody(_ fd: Int32, path: String, from offset: Int, count: Int, out: ResponseOutput) async throws {
        var position = offset
        let end = offset + count
        while position < end {
            let length = min(Self.chunkSize, end - position)
            let start = position
            let chunk = try await threadPool.runIfActive { () throws -> [UInt8] in
                var bytes = [UInt8](repeating: 0, count: length)
                var filled = 0
                try bytes.withUnsafeMutableBytes { buffer in
                    while filled < length {
                        let read = pread(fd, buffer.baseAddress! + filled, length - filled, off_t(start + filled))
                        if read < 0, errno == EINTR { continue }
                        guard read > 0 else { throw StoreFileError(operation: "read", path: path, code: read == 0 ? EIO : errno) }
                        filled += read
                    }
                }
                return bytes
            }
            try await out.write(chunk)
            position += length
        }
    }

    /// The whole stored message, read on the thread pool in 64 KiB chunks (never on an event loop).
    func readBody(_ message: StoredMessage) async throws -> [UInt8] {
        let path = store.bodyPath(message.bodyID)
        let size = message.size
        return try await threadPool.runIfActive { try Self.readFile(path, size: size) }
    }

    // MARK: - SEARCH

    private func matches(_ key: SearchKey, _ message: StoredMessage, sequence: UInt32, in selected: SelectedMailbox,
                         content: [UInt8]?) -> Bool {
        func has(_ flag: String) -> Bool { message.flags.contains { $0.lowercased() == flag.lowercased() } }
        switch key {
        case .all: return true
        case .and(let keys): return keys.allSatisfy { matches($0, message, sequence: sequence, in: selected, content: content) }
        case .or(let a, let b):
            return matches(a, message, sequence: sequence, in: selected, content: content)
                || matches(b, message, sequence: sequence, in: selected, content: content)
        case .not(let inner): return !matches(inner, message, sequence: sequence, in: selected, content: content)
        case .flag(let flag): return has(flag)
        case .noFlag(let flag): return !has(flag)
        case .new: return !has("\\Seen")
        case .before(let day): return IMAPDates.day(of: message.internalDate) < day
        case .on(let day): return IMAPDates.day(of: message.internalDate) == day
        case .since(let day): return IMAPDates.day(of: message.internalDate) >= day
        case .larger(let size): return message.size > size
        case .smaller(let size): return message.size < size
        case .uid(let set): return set.contains(message.uid, largest: selected.messages.last?.uid ?? 0)
        case .sequence(let set): return set.contains(sequence, largest: UInt32(selected.messages.count))
        case .header(let name, let value):
            guard let content else { return false }
            let entity = MIMEEntity.parse(content, limits: MIMELimits(maxDepth: 0))
            let needle = Array(value.utf8)
            return entity.header.fields(named: name).contains { Self.contains(Array($0.rawValue), needle) }
        case .body(let value):
            guard let content else { return false }
            let entity = MIMEEntity.parse(content, limits: MIMELimits(maxDepth: 0))
            return Self.contains(Array(content[entity.bodyRange]), Array(value.utf8))
        case .text(let value):
            guard let content else { return false }
            return Self.contains(content, Array(value.utf8))
        }
    }

    /// ASCII case-insensitive substring search (RFC 3501 §6.4.4); an empty needle matches.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        func fold(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
        let folded = needle.map(fold)
        var start = 0
        while start + folded.count <= haystack.count {
            var index = 0
            while index < folded.count, fold(haystack[start + index]) == folded[index] { index += 1 }
            if index == folded.count { return true }
            start += 1
        }
        return false
    }
}

extension SearchKey {
    /// The key reads headers or text (the message file must be read).
    var needsContent: Bool {
        switch self {
        case .header, .body, .text: true
        case .and(let keys): keys.contains { $0.needsContent }
        case .or(let a, let b): a.needsContent || b.needsContent
        case .not(let inner): inner.needsContent
        default: false
        }
    }
}

/// A LIST pattern: `*` matches anything, `%` anything but the delimiter `/` (RFC 3501 §6.3.8);
/// INBOX matches case-insensitively.
struct MailboxPattern {
    let pattern: [Character]

    init(_ text: String) {
        pattern = Array(text.uppercased().hasPrefix("INBOX") && (text.count == 5 || text.dropFirst(5).first == "/")
                        ? "INBOX" + text.dropFirst(5) : text)
    }

    func matches(_ name: String) -> Bool {
        let name = Array(name)
        // Iterative matching with the positions reachable so far (no recursion).
        var states: Set<Int> = [0]
        for character in name {
            var next: Set<Int> = []
            for state in expand(states) where state < pattern.count {
                switch pattern[state] {
                case "*": next.insert(state)
                case "%": if character != "/" { next.insert(state) }
                default: if pattern[state] == character { next.insert(state + 1) }
                }
            }
            states = next
            if states.isEmpty { return false }
        }
        return expand(states).contains(pattern.count)
    }

    /// Wildcards may also match nothing.
    private func expand(_ states: Set<Int>) -> Set<Int> {
        var result = states
        for state in states {
            var position = state
            while position < pattern.count, pattern[position] == "*" || pattern[position] == "%" {
                position += 1
                result.insert(position)
            }
        }
        return result
    }
}

/// Collects a command's untagged responses and writes them in pieces of about 64 KiB.
final class ResponseOutput {
    struct WriteFailed: Error {}

    private let writer: any IMAPResponseWriter
    private var pending: [UInt8] = []

    init(_ writer: any IMAPResponseWriter) {
        self.writer = writer
    }

    func lines(_ lines: [String]) async throws {
        for line in lines { pending += Array(line.utf8) + [0x0D, 0x0A] }
        if pending.count >= IMAPMailboxCommands.chunkSize { try await flush() }
    }

    func write(_ bytes: [UInt8]) async throws {
        pending += bytes
        if pending.count >= IMAPMailboxCommands.chunkSize { try await flush() }
    }

    func flush() async throws {
        guard !pending.isEmpty else { return }
        let bytes = pending
        pending = []
        do {
            try await writer.write(bytes)
        } catch {
            throw WriteFailed()
        }
    }
}
