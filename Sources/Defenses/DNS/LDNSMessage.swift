import CLDNS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// DNS messages built and parsed by libldns. Every ldns object made here is freed before return.
enum LDNSMessage {
    /// What the resolver needs of a reply.
    struct Reply: Sendable {
        var id: UInt16
        /// RCODE including the EDNS0 extension bits ([RFC 6891 §6.1.3](https://www.rfc-editor.org/rfc/rfc6891#section-6.1.3)).
        var responseCode: UInt16
        var truncated: Bool
        var authenticatedData: Bool
        var answers: [DNSResourceRecord]
        var authority: [DNSResourceRecord]
    }

    static let noError: UInt16 = 0
    static let formatError: UInt16 = 1
    static let serverFailure: UInt16 = 2
    static let nameError: UInt16 = 3

    /// A standard query ([RFC 1035 §4.1](https://www.rfc-editor.org/rfc/rfc1035#section-4.1)) with RD
    /// set, optionally AD ([RFC 6840 §5.7](https://www.rfc-editor.org/rfc/rfc6840#section-5.7)) and an
    /// OPT record ([RFC 6891 §6.1](https://www.rfc-editor.org/rfc/rfc6891#section-6.1)), in wire form.
    static func makeQuery(
        _ question: DNSQuestion, id: UInt16, edns: DNSResolverConfiguration.EDNS?, requestAuthenticatedData: Bool
    ) throws(DNSError) -> [UInt8] {
        let wireName = try DNSWire.encodeName(question.name)
        let owner = wireName.withUnsafeBytes { ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, $0.count, $0.baseAddress) }
        guard let owner else { throw .invalidName(question.name) }
        // The packet takes ownership of `owner`.
        guard
            let packet = ldns_pkt_query_new(
                owner, ldns_rr_type(UInt32(question.type.rawValue)), LDNS_RR_CLASS_IN, UInt16(LDNS_RD))
        else {
            ldns_rdf_deep_free(owner)
            throw .malformedResponse("ldns could not build the query")
        }
        defer { ldns_pkt_free(packet) }
        ldns_pkt_set_id(packet, id)
        ldns_pkt_set_ad(packet, requestAuthenticatedData ? 1 : 0)  // ldns's `bool` is a C char
        if let edns {
            ldns_pkt_set_edns_udp_size(packet, max(edns.udpPayloadSize, 512))
            ldns_pkt_set_edns_do(packet, edns.dnssecOK ? 1 : 0)
        }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let status = ldns_pkt2wire(&buffer, packet, &size)
        defer { free(buffer) }
        guard status == LDNS_STATUS_OK, let buffer else {
            throw .invalidName("\(question.name): \(String(cString: ldns_get_errorstr_by_id(status)))")
        }
        return Array(UnsafeBufferPointer(start: buffer, count: size))
    }

    /// Parses a reply with `ldns_wire2pkt`; records of other classes than IN are dropped.
    static func parseReply(_ bytes: [UInt8]) throws(DNSError) -> Reply {
        var parsed: UnsafeMutablePointer<ldns_pkt>? = nil
        let status = bytes.withUnsafeBufferPointer { ldns_wire2pkt(&parsed, $0.baseAddress, $0.count) }
        guard status == LDNS_STATUS_OK, let packet = parsed else {
            if let parsed { ldns_pkt_free(parsed) }
            throw .malformedResponse(String(cString: ldns_get_errorstr_by_id(status)))
        }
        defer { ldns_pkt_free(packet) }
        let rcode = UInt16(ldns_pkt_get_rcode(packet).rawValue) | UInt16(ldns_pkt_edns_extended_rcode(packet)) << 4
        return Reply(
            id: ldns_pkt_id(packet),
            responseCode: rcode,
            truncated: ldns_pkt_tc(packet) != 0,
            authenticatedData: ldns_pkt_ad(packet) != 0,
            answers: records(ldns_pkt_answer(packet)),
            authority: records(ldns_pkt_authority(packet))
        )
    }

    private static func records(_ list: UnsafeMutablePointer<ldns_rr_list>?) -> [DNSResourceRecord] {
        guard let list else { return [] }
        return (0..<ldns_rr_list_rr_count(list)).compactMap { index in
            ldns_rr_list_rr(list, index).flatMap(record)
        }
    }

    /// One ldns record as a ``DNSResourceRecord``; `nil` for class other than IN or data that does
    /// not fit its type.
    static func record(_ rr: UnsafeMutablePointer<ldns_rr>) -> DNSResourceRecord? {
        guard ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN,
            let owner = ldns_rr_owner(rr), let name = DNSWire.decodeName(bytes(of: owner))
        else { return nil }
        let type = DNSRecordType(rawValue: UInt16(truncatingIfNeeded: ldns_rr_get_type(rr).rawValue))
        let fields: [[UInt8]] = (0..<ldns_rr_rd_count(rr)).map { index in
            ldns_rr_rdf(rr, index).map(bytes(of:)) ?? []
        }
        guard let data = DNSWire.recordData(type: type, fields: fields) else { return nil }
        // RFC 2181 §8: a TTL with the top bit set counts as zero.
        let ttl = ldns_rr_ttl(rr)
        return DNSResourceRecord(name: name, ttl: ttl > UInt32(Int32.max) ? 0 : ttl, data: data)
    }

    private static func bytes(of rdf: UnsafeMutablePointer<ldns_rdf>) -> [UInt8] {
        guard let data = ldns_rdf_data(rdf) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: ldns_rdf_size(rdf)))
    }

    /// Records in zone-file syntax (RFC 1035 §5), parsed by `ldns_rr_new_frm_str`, one per line,
    /// with `$ORIGIN` and `$TTL` lines and `;` comment lines. A line starting with blanks reuses
    /// the previous owner.
    static func parseZone(_ text: String, defaultTTL: UInt32 = 3600) throws(DNSError) -> [DNSResourceRecord] {
        var records: [DNSResourceRecord] = []
        var ttl = defaultTTL
        var origin: UnsafeMutablePointer<ldns_rdf>? = nil
        var previous: UnsafeMutablePointer<ldns_rdf>? = nil
        defer {
            ldns_rdf_deep_free(origin)
            ldns_rdf_deep_free(previous)
        }
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = String(rawLine)
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix(";") { continue }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields[0] == "$ORIGIN", fields.count >= 2 {
                ldns_rdf_deep_free(origin)
                origin = ldns_dname_new_frm_str(String(fields[1]))
                guard origin != nil else { throw .invalidName(String(fields[1])) }
                continue
            }
            if fields[0] == "$TTL", fields.count >= 2, let value = UInt32(fields[1]) {
                ttl = value
                continue
            }
            var rr: UnsafeMutablePointer<ldns_rr>? = nil
            let status = ldns_rr_new_frm_str(&rr, line, ttl, origin, &previous)
            defer { ldns_rr_free(rr) }
            guard status == LDNS_STATUS_OK, let rr else {
                throw .malformedResponse("zone line \"\(line)\": \(String(cString: ldns_get_errorstr_by_id(status)))")
            }
            guard let record = record(rr) else {
                throw .malformedResponse("zone line \"\(line)\": unusable record")
            }
            records.append(record)
        }
        return records
    }
}
