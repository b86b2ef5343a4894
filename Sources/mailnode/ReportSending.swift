import ArgumentParser
import Defenses
import Foundation
import NIOCore
import SMTPCore

/// `--send --from ADDR [--via HOST:PORT]`: mail the reports `dmarc report` and `tlsrpt report`
/// build to the addresses their domains publish, through an SMTP relay — normally the node's own
/// outbound stage, which DKIM-signs them for the From: domain and delivers them.
struct ReportSendingOptions: ParsableArguments {
    @Flag(help: "Also mail each report to the addresses its domain publishes (rua).")
    var send = false

    @Option(help: "With --send: the reports' sender (From: and MAIL FROM); give its domain a DKIM key in the outbound stage.")
    var from: String?

    @Option(help: "With --send: the SMTP relay to hand the reports to, host:port (the outbound stage's listener).")
    var via: String = "127.0.0.1:25"

    func validate() throws {
        guard send else { return }
        guard let from, Self.mailbox(from) != nil else { throw ValidationError("--send needs --from ADDRESS") }
        guard Self.hostPort(via) != nil else { throw ValidationError("--via must be host:port, got '\(via)'") }
    }

    static func mailbox(_ address: String) -> Mailbox? {
        guard let at = address.lastIndex(of: "@"), at != address.startIndex, address.index(after: at) != address.endIndex else { return nil }
        return Mailbox(localPart: String(address[..<at]), host: .domain(String(address[address.index(after: at)...])))
    }

    static func hostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Hands `message` to the relay for the addresses whose size limit it fits; one line saying what happened.
    func submit(_ build: (_ recipients: [String]) throws -> ReportMessage, to addresses: [ReportAddress]) async -> String {
        guard let from, let sender = Self.mailbox(from), let (host, port) = Self.hostPort(via) else { return "not sent: no --from" }
        guard !addresses.isEmpty else { return "not sent: no address to send it to" }
        let message: ReportMessage
        do {
            message = try build(addresses.map(\.address))
        } catch {
            return "not sent: \(error)"
        }
        let fitting = addresses.filter { ($0.maxSize ?? Int.max) >= message.bytes.count }
        let tooSmall = addresses.filter { ($0.maxSize ?? Int.max) < message.bytes.count }.map { "\($0.address) (limit \($0.maxSize ?? 0) < \(message.bytes.count) octets)" }
        guard !fitting.isEmpty else { return "not sent: too large for " + tooSmall.joined(separator: ", ") }
        let final = fitting.count == addresses.count ? message : (try? build(fitting.map(\.address))) ?? message
        let recipients = fitting.compactMap { Self.mailbox($0.address).map { ForwardPath.mailbox($0) } }
        var configuration = SMTPClientConfiguration()
        configuration.heloName = .domain(sender.host.description)
        configuration.timeouts = .uniform(.seconds(60))
        let result = await SMTPClient.deliver(envelope: OutboundEnvelope(sender: .mailbox(sender), recipients: recipients),
                                              message: ByteBuffer(bytes: final.bytes), host: host, port: port,
                                              configuration: configuration, logger: CheckOutput.quietLogger)
        let accepted = zip(fitting, result.recipients).filter { $0.1.isAccepted }.map(\.0.address)
        var line = result.isDelivered ? "sent to \(accepted.joined(separator: ", ")) via \(via)" : "not sent: \(result)"
        if !tooSmall.isEmpty { line += "; skipped \(tooSmall.joined(separator: ", "))" }
        return line
    }
}
