import ArgumentParser
import Defenses
import Foundation

/// `mailnode check attachments [--extra-extensions …] [--repeat N] < message`: the antivirus
/// stage's MIME walk and attachment policy (docs/antivirus.md) on one message, without clamd —
/// to see why a message was refused. Prints each part (path, type, name, decoded size, detected
/// content type) and the verdict. `--repeat N` walks N times and prints the rate (bench/antivirus.sh).
struct CheckAttachments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachments",
        abstract: "Walk a message's MIME parts (stdin) and apply the default attachment policy.")

    @Option(parsing: .upToNextOption, help: "Extensions to block besides the default list.")
    var extraExtensions: [String] = []

    @Option(help: "Walk and check the message this many times and print walks per second.")
    var `repeat`: Int = 1

    func run() throws {
        let message = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        var policy = AttachmentPolicy.default
        policy.blockedExtensions.formUnion(extraExtensions.map { String($0.drop { $0 == "." }).lowercased() })
        let walker = MIMEWalker()
        let parts: [MIMEPart]
        do {
            parts = try walker.parts(of: message)
        } catch {
            print("result: refused (MIME structure: \(error))")
            return
        }
        if `repeat` > 1 {
            let start = ContinuousClock.now
            for _ in 0..<`repeat` {
                let walked = (try? walker.parts(of: message)) ?? []
                _ = policy.evaluate(walked)
            }
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            print("walked \(`repeat`) times, \(message.count) octets: \(String(format: "%.1f", Double(`repeat`) / seconds)) messages/s")
        }
        for part in parts {
            let type = part.detectedType.map { " detected=\($0)" } ?? ""
            print("part \(part.path)  \(part.contentType)  \(part.filename.map { "\"\($0)\"" } ?? "-")  \(part.body.count) octets\(type)")
        }
        if let verdict = policy.evaluate(parts) {
            print("result: blocked (\(verdict))")
        } else {
            print("result: pass (\(parts.count) parts)")
        }
    }
}
