/// The `TLS-Required:` header field ([RFC 8689 §5](https://www.rfc-editor.org/rfc/rfc8689#section-5)):
/// with the value `No`, the sender asks that the message be delivered even where a TLS policy
/// (DANE, MTA-STS, a local one) would hold it back. Ignored when the message also carries
/// REQUIRETLS (§5: the MAIL FROM parameter wins).
public enum TLSRequiredField {
    /// Whether `headers` (a header section, CRLF lines) has `TLS-Required: No`, in any case, with
    /// folding ([RFC 5322 §2.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-2.2.3)).
    public static func saysNo(headers: String) -> Bool {
        let unfolded = headers.replacingOccurrences(of: "\r\n ", with: " ").replacingOccurrences(of: "\r\n\t", with: " ")
        for line in unfolded.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "tls-required" else { continue }
            if line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).lowercased() == "no" { return true }
        }
        return false
    }
}
