/// uuencoded files inside text parts (POSIX `uuencode`: `begin <mode> <name>`, lines whose
/// first character gives their length, `end`). Old clients and malware still send them; the
/// file inside is checked like an attachment.
enum Uuencode {
    struct File: Hashable {
        var name: String
        var body: [UInt8]
    }

    /// The files in `text`, at most `maxFiles`, stopping once `budget` decoded octets are spent
    /// (the file being decoded then ends there).
    static func files(in text: ArraySlice<UInt8>, maxFiles: Int, budget: Int) -> [File] {
        var files: [File] = []
        var current: File?
        var spent = 0
        for line in lines(text) {
            if var file = current {
                if line.starts(with: Array("end".utf8)) && line.count <= 4 {
                    files.append(file)
                    current = nil
                    if files.count >= maxFiles { break }
                    continue
                }
                let decoded = decodeLine(line)
                spent += decoded.count
                if spent > budget { break }
                file.body += decoded
                current = file
            } else if line.starts(with: Array("begin ".utf8)) {
                // begin 644 name (mode: octal digits)
                let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
                guard fields.count == 3, fields[1].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }) else { continue }
                current = File(name: String(decoding: fields[2], as: UTF8.self).trimmingWhitespace(), body: [])
            }
        }
        // A block without `end` still counts: a lenient decoder would hand it to the user.
        if let current, files.count < maxFiles { files.append(current) }
        return files
    }

    static func decodeLine(_ line: ArraySlice<UInt8>) -> [UInt8] {
        guard let first = line.first else { return [] }
        let length = Int((first &- 32) & 63)
        guard length > 0 else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var values = line.dropFirst().map { ($0 &- 32) & 63 }
        while values.count % 4 != 0 { values.append(0) }
        var index = 0
        while index + 3 < values.count, out.count < length {
            let (a, b, c, d) = (values[index], values[index + 1], values[index + 2], values[index + 3])
            out.append(a << 2 | b >> 4)
            out.append((b & 0x0F) << 4 | c >> 2)
            out.append((c & 0x03) << 6 | d)
            index += 4
        }
        return Array(out.prefix(length))
    }

    /// Lines without CR/LF.
    static func lines(_ text: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == 0x0A {
                var end = index
                if end > start, text[end - 1] == 0x0D { end -= 1 }
                out.append(text[start..<end])
                start = index + 1
            }
            index += 1
        }
        if start < text.endIndex { out.append(text[start...]) }
        return out
    }
}
