/// Replaces blocked attachments by a short text part (`antivirus.blocked_attachments = "strip"`),
/// so that the rest of a message still arrives — what Amavis calls "banned file replacement".
///
/// Each blocked part's whole entity (its MIME header and encoded body, between the boundary
/// lines — [RFC 2046 §5.1.1](https://www.rfc-editor.org/rfc/rfc2046#section-5.1.1)) becomes
/// `text/plain` saying which file was removed and why, in generic words. Only parts that lie in
/// the message as bytes can be replaced: a part inside a base64-encoded `message/rfc822`, a
/// uuencoded block, or the message's only entity (a message that *is* the attachment) cannot —
/// ``strip(_:blocked:)`` returns nil and the stage refuses the message instead. A DKIM signature
/// over the body no longer verifies afterwards; the mx recorded the original verdict above.
public enum AttachmentStripper {
    /// The replacement entity for a removed part.
    static func replacement(for part: MIMEPart, verdict: AttachmentVerdict) -> [UInt8] {
        let name = (part.filename ?? "part \(part.path)").filter { $0.isASCII && !$0.isNewline && $0 != "\"" }
        let text = "Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: inline\r\n"
            + "Content-Transfer-Encoding: 7bit\r\n\r\n"
            + "The attachment \"\(String(name.prefix(200)))\" was removed by the mail system: \(verdict.reason.summary).\r\n"
        return Array(text.utf8)
    }

    /// `message` with every blocked part replaced, or nil when one of them cannot be.
    public static func strip(_ message: [UInt8], blocked: [(part: MIMEPart, verdict: AttachmentVerdict)]) -> [UInt8]? {
        var ranges: [(Range<Int>, [UInt8])] = []
        for (part, verdict) in blocked {
            guard part.depth >= 1, let range = part.rawRange, range.upperBound <= message.count else { return nil }
            ranges.append((range, replacement(for: part, verdict: verdict)))
        }
        ranges.sort { $0.0.lowerBound > $1.0.lowerBound }
        var out = message
        var lastStart = Int.max
        for (range, text) in ranges {
            guard range.upperBound <= lastStart else { return nil }   // overlapping entities: refuse, never guess
            out.replaceSubrange(range, with: text)
            lastStart = range.lowerBound
        }
        return out
    }
}
