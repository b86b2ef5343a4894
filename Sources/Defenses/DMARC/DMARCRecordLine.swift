import Foundation

/// One ``DMARCAggregateRecord`` as a line of JSON, the on-disk form of
/// ``DMARCReportFileStore``: short, stable key names, nothing the report does not need.
///
/// ```json
/// {"t":1733300000,"ip":"192.0.2.1","from":"example.com","mfrom":"example.com","pd":"example.com",
///  "p":"reject","pct":100,"adkim":"r","aspf":"r","rua":["mailto:d@example.com"],"disp":"reject",
///  "dkim_ok":false,"spf_ok":false,"dkim":[{"d":"example.com","s":"s1","r":"fail","a":true}],
///  "spf":{"d":"example.com","scope":"mfrom","r":"fail","a":true}}
/// ```
struct DMARCRecordLine: Codable, Sendable {
    struct Result: Codable, Sendable {
        var d: String
        var s: String?
        var scope: String?
        var r: String
        /// Aligned with the From domain.
        var a: Bool
    }

    var t: Int64
    var ip: String
    var from: String
    var mfrom: String?
    var pd: String
    var p: String
    var sp: String?
    var np: String?
    var pct: Int
    var adkim: String
    var aspf: String
    var rua: [String]
    var fo: [String]?
    var disp: String
    var dkim_ok: Bool
    var spf_ok: Bool
    var reasons: [String]?
    var dkim: [Result]
    var spf: Result?

    init(_ record: DMARCAggregateRecord) {
        let policy = record.policyPublished
        t = record.date
        ip = record.sourceIP.description
        from = record.headerFrom
        mfrom = record.envelopeFrom
        pd = record.policyDomain
        p = policy.policy.rawValue
        sp = policy.subdomainPolicy?.rawValue
        np = policy.nonexistentPolicy?.rawValue
        pct = policy.percentage
        adkim = policy.dkimAlignment.rawValue
        aspf = policy.spfAlignment.rawValue
        rua = policy.aggregateReportURIs
        fo = policy.failureOptions == ["0"] ? nil : policy.failureOptions
        disp = record.disposition.rawValue
        dkim_ok = record.dkimAligned
        spf_ok = record.spfAligned
        reasons = record.overrideReasons.isEmpty ? nil : record.overrideReasons
        dkim = record.dkim.map { Result(d: $0.domain, s: $0.selector, r: $0.result, a: $0.aligned) }
        spf = record.spf.map { Result(d: $0.domain, scope: record.spfScope, r: $0.result, a: $0.aligned) }
    }

    /// The record again; `nil` when a value is not one this version writes (a line from a
    /// newer version, or damaged).
    var record: DMARCAggregateRecord? {
        guard let address = IPAddress(ip), let policy = DMARCPolicy(rawValue: p), let disposition = DMARCDisposition(rawValue: disp),
              let dkimMode = DMARCAlignmentMode(rawValue: adkim), let spfMode = DMARCAlignmentMode(rawValue: aspf),
              (0...100).contains(pct) else { return nil }
        let published = DMARCRecord(
            policy: policy, subdomainPolicy: sp.flatMap(DMARCPolicy.init(rawValue:)),
            nonexistentPolicy: np.flatMap(DMARCPolicy.init(rawValue:)), percentage: pct, dkimAlignment: dkimMode,
            spfAlignment: spfMode, aggregateReportURIs: rua, failureOptions: fo ?? ["0"])
        return DMARCAggregateRecord(
            date: t, sourceIP: address, headerFrom: from, envelopeFrom: mfrom, policyDomain: pd, policyPublished: published,
            disposition: disposition, dkimAligned: dkim_ok, spfAligned: spf_ok, overrideReasons: reasons ?? [],
            dkim: dkim.map { DMARCIdentifierAlignment(method: "dkim", domain: $0.d, result: $0.r, selector: $0.s, aligned: $0.a) },
            spf: spf.map { DMARCIdentifierAlignment(method: "spf", domain: $0.d, result: $0.r, aligned: $0.a) },
            spfScope: spf?.scope)
    }
}

extension DMARCRecordLine {
    /// The line as `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` writes it, byte
    /// for byte (DMARCRecordLineTests compares the two), without its reflection: every mx message
    /// appends one, and the encoder was 1.5 % of the message's CPU (bench/README.md, `mx.sh`).
    var jsonLine: [UInt8] {
        var out = JSONLineWriter()
        out.object { object in
            object.string("adkim", adkim)
            object.string("aspf", aspf)
            object.string("disp", disp)
            object.array("dkim", dkim) { $0.result($1) }
            object.bool("dkim_ok", dkim_ok)
            if let fo { object.array("fo", fo) { $0.string($1) } }
            object.string("from", from)
            object.string("ip", ip)
            if let mfrom { object.string("mfrom", mfrom) }
            if let np { object.string("np", np) }
            object.string("p", p)
            object.int("pct", Int64(pct))
            object.string("pd", pd)
            if let reasons { object.array("reasons", reasons) { $0.string($1) } }
            object.array("rua", rua) { $0.string($1) }
            if let sp { object.string("sp", sp) }
            if let spf { object.key("spf"); object.writer.result(spf) }
            object.bool("spf_ok", spf_ok)
            object.int("t", t)
        }
        return out.bytes
    }
}

/// The few JSON shapes ``DMARCRecordLine/jsonLine`` needs, escaped as `JSONEncoder` escapes.
struct JSONLineWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(512) }

    struct Object {
        var writer: JSONLineWriter
        var first = true

        mutating func key(_ name: String) {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.string(name)
            writer.bytes.append(UInt8(ascii: ":"))
        }

        mutating func string(_ name: String, _ value: String) { key(name); writer.string(value) }
        mutating func bool(_ name: String, _ value: Bool) { key(name); writer.bytes.append(contentsOf: (value ? "true" : "false").utf8) }
        mutating func int(_ name: String, _ value: Int64) { key(name); writer.bytes.append(contentsOf: String(value).utf8) }

        mutating func array<T>(_ name: String, _ values: [T], _ element: (inout JSONLineWriter, T) -> Void) {
            key(name)
            writer.bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { writer.bytes.append(UInt8(ascii: ",")) }
                element(&writer, value)
            }
            writer.bytes.append(UInt8(ascii: "]"))
        }
    }

    mutating func object(_ body: (inout Object) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var object = Object(writer: self)
        bytes = []   // the object is the buffer's only owner while it writes, so appends never copy it
        body(&object)
        self = object.writer
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func result(_ result: DMARCRecordLine.Result) {
        object { object in
            object.bool("a", result.a)
            object.string("d", result.d)
            object.string("r", result.r)
            if let s = result.s { object.string("s", s) }
            if let scope = result.scope { object.string("scope", scope) }
        }
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
