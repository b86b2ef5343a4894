import Crypto
import Foundation

/// A hashcash version 1 stamp ("postage"), the proof of work CAMRAM (DM26) asks senders to
/// attach: `ver:bits:date:resource:ext:rand:counter`, for example
/// `1:20:060408:adam@cypherspace.org::1QTjaYd7niiQA/sc:ePa`
/// ([hashcash.org, format version 1](http://www.hashcash.org/docs/hashcash.html#stamp_format__version_1_)).
///
/// The stamp is worth ``claimedBits`` when the SHA-1 of its text (as written, ASCII) begins with
/// at least that many zero bits; minting one takes about 2^bits hash computations, checking it
/// one. For mail the resource is the recipient's address; the sender mints one stamp per
/// recipient and puts each in an `X-Hashcash:` header field.
///
/// Version 0 stamps (`0:date:resource:counter`) are not accepted: the hashcash tool has minted
/// version 1 since 2004 and version 0 has no bit count of its own.
public struct HashcashStamp: Sendable, Hashable, CustomStringConvertible {
    /// The stamp as written.
    public let text: String
    /// What the minter claims to have paid.
    public let claimedBits: Int
    /// When it was minted, UTC (the `date` field: `YYMMDD`, `YYMMDDhhmm` or `YYMMDDhhmmss`).
    public let date: Date
    /// The `resource` field: for mail, the recipient's address.
    public let resource: String
    /// The leading zero bits of the stamp's SHA-1: what was paid.
    public let value: Int
    /// The stamp's SHA-1 in lower-case hex (its identity in the double-spend records).
    public let digestHex: String

    /// The longest stamp read (the tool's stamps are under 100 octets; a long `ext` is refused).
    public static let maxLength = 512

    public var description: String { text }

    /// Parses `text` (surrounding white space removed); nil when it is not a version 1 stamp.
    public init?(_ text: some StringProtocol) {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.utf8.count <= Self.maxLength, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        // ver, bits, date, resource, ext, rand, counter.
        guard parts.count == 7, parts[0] == "1",
              let bits = Int(parts[1]), (0...160).contains(bits), parts[1].allSatisfy(\.isASCIIDigit),
              let date = Self.date(parts[2]),
              !parts[3].isEmpty, !parts[5].isEmpty, !parts[6].isEmpty
        else { return nil }
        self.text = text
        claimedBits = bits
        self.date = date
        resource = String(parts[3])
        let digest = Insecure.SHA1.hash(data: Array(text.utf8))
        value = Self.leadingZeroBits(digest)
        digestHex = Self.hex(digest)
    }

    /// Whether the work behind the stamp covers its claim and `required` bits.
    public func isPaid(required: Int) -> Bool { claimedBits >= required && value >= claimedBits }

    /// `YYMMDD[hhmm[ss]]` as a UTC instant; years are 2000–2099 (the tool writes two digits).
    static func date(_ field: Substring) -> Date? {
        guard [6, 10, 12].contains(field.count), field.allSatisfy(\.isASCIIDigit) else { return nil }
        let digits = field.compactMap(\.wholeNumberValue)
        func number(_ at: Int) -> Int { digits[at] * 10 + digits[at + 1] }
        var components = DateComponents()
        components.calendar = Calendar(identifier: .gregorian)
        components.timeZone = TimeZone(identifier: "UTC")
        components.year = 2000 + number(0)
        components.month = number(2)
        components.day = number(4)
        components.hour = field.count >= 10 ? number(6) : 0
        components.minute = field.count >= 10 ? number(8) : 0
        components.second = field.count == 12 ? number(10) : 0
        guard let month = components.month, (1...12).contains(month), let day = components.day, (1...31).contains(day),
              components.hour! < 24, components.minute! < 60, components.second! < 60,
              components.isValidDate, let date = components.date
        else { return nil }
        return date
    }

    /// Lower-case hex of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Zero bits at the start of `digest`, most significant bit of the first octet first.
    static func leadingZeroBits(_ digest: some Sequence<UInt8>) -> Int {
        var count = 0
        for byte in digest {
            guard byte == 0 else { return count + byte.leadingZeroBitCount }
            count += 8
        }
        return count
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
