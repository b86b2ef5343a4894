import Foundation
import Testing

@testable import Defenses

/// ``DMARCRecordLine/jsonLine`` writes what `JSONEncoder` (sorted keys, slashes unescaped) writes,
/// byte for byte — with every optional present and absent, and strings that need escaping.
struct DMARCRecordLineTests {
    static let awkward = ["plain.example", "quote\"d", "back\\slash", "sl/ash", "tab\there", "new\nline", "cr\rx",
                          "bell\u{07}", "nul\u{00}x", "form\u{0C}feed", "bs\u{08}x", "unit\u{1F}", "del\u{7F}", "b\u{fc}cher.example",
                          "emoji \u{1F4E8}", ""]

    static func lines() -> [DMARCRecordLine] {
        var lines: [DMARCRecordLine] = []
        for (index, text) in awkward.enumerated() {
            var record = DMARCReportFileStoreTests.record(date: DMARCReportFileStoreTests.dayStart + Int64(index), from: text,
                                                          reasons: index % 2 == 0 ? [] : ["sampled_out", text])
            if index % 3 == 0 {
                record.envelopeFrom = nil
                record.spf = nil
                record.spfScope = nil
                record.dkim = []
                record.policyPublished.subdomainPolicy = nil
                record.policyPublished.failureOptions = ["0"]
            }
            if index % 3 == 1 {
                record.policyPublished.nonexistentPolicy = .reject
                record.dkim.append(DMARCIdentifierAlignment(method: "dkim", domain: text, result: "fail", selector: nil, aligned: false))
                record.policyPublished.aggregateReportURIs = ["mailto:a@\(text)", "mailto:b@example.org"]
            }
            if index % 4 == 3 { record.sourceIP = IPAddress("2001:db8::1")! }
            lines.append(DMARCRecordLine(record))
        }
        return lines
    }

    @Test func theHandWrittenLineIsTheEncodersLine() throws {
        for line in Self.lines() {
            let encoded = try JSONEncoder.dmarcLines.encode(line)
            #expect(line.jsonLine == Array(encoded), "\(String(decoding: encoded, as: UTF8.self))\n\(String(decoding: line.jsonLine, as: UTF8.self))")
            // And it reads back as the same record.
            let decoded = try JSONDecoder().decode(DMARCRecordLine.self, from: Data(line.jsonLine))
            #expect(decoded.record == line.record)
        }
    }
}
