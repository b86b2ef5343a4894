/// One ARC Set: the three header fields an intermediary adds, sharing an instance number
/// ([RFC 8617 §4.1](https://www.rfc-editor.org/rfc/rfc8617#section-4.1)):
/// `ARC-Authentication-Results` (what it found), `ARC-Message-Signature` (a DKIM-like signature
/// of the message as it passed) and `ARC-Seal` (a signature over all ARC fields so far).
public struct ARCSet: Hashable, Sendable {
    /// `i=`, 1 for the first intermediary (§4.2.1).
    public var instance: Int
    /// `ARC-Authentication-Results` (AAR, §4.1.1).
    public var authenticationResults: HeaderField
    /// `ARC-Message-Signature` (AMS, §4.1.2).
    public var messageSignature: HeaderField
    /// `ARC-Seal` (AS, §4.1.3).
    public var seal: HeaderField

    public init(instance: Int, authenticationResults: HeaderField, messageSignature: HeaderField, seal: HeaderField) {
        self.instance = instance
        self.authenticationResults = authenticationResults
        self.messageSignature = messageSignature
        self.seal = seal
    }

    /// The three fields in the order the seal hashes them (§5.1.1): AAR, AMS, AS.
    public var fields: [HeaderField] { [authenticationResults, messageSignature, seal] }

    /// The AAR's payload without `i=N;`: an Authentication-Results value, unfolded, runs of
    /// white space made one space.
    public var authenticationResultsPayload: String {
        var out: [UInt8] = []
        var space = false
        for byte in authenticationResults.value.utf8 {
            if MessageASCII.isWSP(byte) { space = true; continue }
            if space && !out.isEmpty { out.append(MessageASCII.sp) }
            space = false
            out.append(byte)
        }
        let value = String(decoding: out, as: UTF8.self)
        guard let semicolon = value.firstIndex(of: ";") else { return value }
        return String(value[value.index(after: semicolon)...])
    }
}

/// The ARC chain of a message, structurally checked
/// ([RFC 8617 §5.2](https://www.rfc-editor.org/rfc/rfc8617#section-5.2) step 3, §4.2.1):
/// instances 1...N with no gap, each with exactly one field of each kind, N ≤ 50.
public enum ARCChain {
    /// The most instances a chain may have (§4.2.1: "MUST be between 1 and 50").
    public static let maxInstances = 50

    /// The sets in instance order (empty when the message has no ARC field), or why the chain is
    /// broken.
    public static func collect(_ header: MessageHeader) -> Result<[ARCSet], ARCChainError> {
        var aar: [Int: HeaderField] = [:]
        var ams: [Int: HeaderField] = [:]
        var seals: [Int: HeaderField] = [:]
        var count = 0
        for field in header.fields where field.colonIndex != nil {
            let name = field.lowercasedName
            guard name == "arc-authentication-results" || name == "arc-message-signature" || name == "arc-seal" else { continue }
            count += 1
            guard count <= 3 * maxInstances else { return .failure(ARCChainError("more than \(maxInstances) ARC sets")) }
            let instance: Int?
            switch name {
            case "arc-authentication-results": instance = aarInstance(field.value)
            default: instance = (try? DKIMTagList.parse(field.rawValue)).flatMap { tags in tags["i"].flatMap(instanceNumber) }
            }
            guard let instance else { return .failure(ARCChainError("\(field.name) without a valid i= tag")) }
            guard (1...maxInstances).contains(instance) else { return .failure(ARCChainError("\(field.name) with i=\(instance) outside 1...50")) }
            let duplicate: Bool
            switch name {
            case "arc-authentication-results": duplicate = aar.updateValue(field, forKey: instance) != nil
            case "arc-message-signature": duplicate = ams.updateValue(field, forKey: instance) != nil
            default: duplicate = seals.updateValue(field, forKey: instance) != nil
            }
            if duplicate { return .failure(ARCChainError("two \(field.name) fields with i=\(instance)")) }
        }
        let highest = max(aar.keys.max() ?? 0, ams.keys.max() ?? 0, seals.keys.max() ?? 0)
        var sets: [ARCSet] = []
        for instance in stride(from: 1, through: highest, by: 1) {
            guard let a = aar[instance], let m = ams[instance], let s = seals[instance] else {
                return .failure(ARCChainError("ARC set \(instance) of \(highest) is incomplete"))
            }
            sets.append(ARCSet(instance: instance, authenticationResults: a, messageSignature: m, seal: s))
        }
        return .success(sets)
    }

    /// `i=N;` at the start of an AAR value (§4.1.1: `arc-info = instance ";" authres-payload`).
    static func aarInstance(_ value: String) -> Int? {
        var text = value.trimmingWSP()[...]
        guard text.hasPrefix("i") || text.hasPrefix("I") else { return nil }
        text = text.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard text.first == "=" else { return nil }
        text = text.dropFirst().drop { $0 == " " || $0 == "\t" }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard text.dropFirst(digits.count).drop(while: { $0 == " " || $0 == "\t" }).first == ";" else { return nil }
        return instanceNumber(String(digits))
    }

    static func instanceNumber(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 3, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(text)
    }
}

/// Why an ARC chain is structurally broken (the chain is then `cv=fail`).
public struct ARCChainError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
