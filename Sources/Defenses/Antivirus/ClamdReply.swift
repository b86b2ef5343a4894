/// A parsed clamd reply to `zINSTREAM` (clamd(8), "INSTREAM"; replies are NUL-terminated in
/// the `z` command form).
///
/// ```
/// stream: OK
/// stream: Eicar-Test-Signature.UNOFFICIAL FOUND
/// INSTREAM size limit exceeded. ERROR
/// ```
enum ClamdReply {
    /// Maps one reply line (without its NUL or newline) to a result.
    static func scanResult(_ line: String, endpoint: ClamdEndpoint) -> ScanResult {
        var text = Substring(line)
        while let last = text.last, last == "\0" || last == "\n" || last == "\r" || last == " " { text = text.dropLast() }
        // With IDSESSION clamd prefixes "<id>: "; INSTREAM outside a session has "stream: ".
        if text.hasSuffix(" ERROR") {
            if text.contains("size limit exceeded") { return .error(.sizeLimitExceeded(limit: nil)) }
            return .error(.scannerError(endpoint: endpoint.description, reply: String(text)))
        }
        // The verdict follows the last ": " (signature names have none).
        guard let verdict = lastField(text) else {
            return .error(.scannerError(endpoint: endpoint.description, reply: String(text)))
        }
        if verdict == "OK" { return .clean }
        if verdict.hasSuffix(" FOUND") {
            let name = verdict.dropLast(" FOUND".count)
            if !name.isEmpty { return .infected(signature: String(name)) }
        }
        return .error(.scannerError(endpoint: endpoint.description, reply: String(text)))
    }

    /// What follows the last `": "`, or nil.
    private static func lastField(_ text: Substring) -> Substring? {
        var index = text.endIndex
        while index > text.startIndex {
            let previous = text.index(before: index)
            if text[previous] == ":", index < text.endIndex, text[index] == " " {
                return text[text.index(after: index)...].drop { $0 == " " }
            }
            index = previous
        }
        return nil
    }
}
