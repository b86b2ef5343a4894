import Foundation
import Testing

/// `mailnode check attachments < message`: the antivirus stage's MIME walk and attachment policy by hand.
@Suite struct CheckAttachmentsCommandTests {
    @Test func blockedAndPassingMessages() async throws {
        try CheckCommand.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mailnode-checkatt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(_ message: String, _ extra: [String] = []) async throws -> (Int32, String) {
            let file = directory.appendingPathComponent("m.eml")
            try message.write(to: file, atomically: true, encoding: .utf8)
            // The binary reads stdin: through /bin/sh so CheckCommand's polling runner can be reused.
            return try await CheckCommand.run(executable: "/bin/sh", ["-c", "f=\"$1\"; shift; \"$0\" check attachments \"$@\" < \"$f\"", CheckCommand.binary, file.path] + extra)
        }
        let blocked = AntivirusMessages.withAttachment(Array("harmless".utf8), name: "invoice.pdf.exe")
        let (status, output) = try await run(blocked)
        #expect(status == 0 && output.contains("result: blocked (\"invoice.pdf.exe\" (part 1.2): blocked extension .exe)"), "\(output)")
        let (_, clean) = try await run(AntivirusMessages.withAttachment(Array("harmless".utf8), name: "notes.txt"))
        #expect(clean.contains("result: pass"), "\(clean)")
        let (_, extra) = try await run(AntivirusMessages.withAttachment(Array("harmless".utf8), name: "notes.txt"), ["--extra-extensions", "txt"])
        #expect(extra.contains("result: blocked"), "\(extra)")
    }
}
