import NIOCore

/// Something that scans a whole message (RFC 5322 octets as received) for malware.
///
/// ``ClamdClient`` is the real one (DM28, status engine: clamd over INSTREAM). The protocol
/// exists so a role can hold "a scanner" and tests of the policy layer can substitute one.
public protocol VirusScanner: Sendable {
    /// Scans `message`; never throws: trouble is a ``ScanResult/error(_:)``.
    func scan(_ message: ByteBuffer) async -> ScanOutcome
}
