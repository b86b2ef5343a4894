import NIOCore

/// The antivirus stage's trace header (`X-Virus-Scanned:` by default) on an accepted message.
///
/// Fields of the same name that arrived with the message are removed first: otherwise a sender
/// could write `X-Virus-Scanned: clean` itself and a later stage or the reader could not tell
/// which one we added. A message without such a field is passed on byte-identical below ours.
enum TraceHeader {
    /// `message` with our field on top and any earlier field named `name` removed.
    static func apply(name: String, value: String, to message: ByteBuffer, limits: MessageLimits) -> ByteBuffer {
        let ours = HeaderField(name: name, value: " " + value).wireBytes
        var out = ByteBuffer()
        out.reserveCapacity(ours.count + message.readableBytes)
        out.writeBytes(ours)
        if let stripped = stripped(name: name, from: message, limits: limits) {
            out.writeBytes(stripped)
        } else {
            var copy = message
            out.writeBuffer(&copy)
        }
        return out
    }

    /// The message without top-level fields named `name`, or nil when it has none (or its
    /// header cannot be read, in which case the MIME walk has refused it already).
    static func stripped(name: String, from message: ByteBuffer, limits: MessageLimits) -> [UInt8]? {
        // Only the header section is copied and parsed; the body is copied only when a field goes.
        let view = message.readableBytesView
        let headerEnd = endOfHeader(view) ?? view.endIndex
        var reader = MessageReader(limits: limits)
        guard let rest = try? reader.feed(Array(view[view.startIndex..<headerEnd])), let header = try? reader.finish(),
              header.fields.contains(where: { $0.hasName(name) }) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(view.count)
        for field in header.fields where !field.hasName(name) { out += field.wireBytes }
        out += [0x0D, 0x0A]
        out += rest
        out += view[headerEnd...]
        return out
    }

    /// The index just after the empty line that ends the header section (LF LF or LF CR LF), or
    /// nil when there is none (the message is all header).
    static func endOfHeader(_ view: ByteBufferView) -> Int? {
        var index = view.startIndex
        if let first = view.first, first == 0x0A { return index + 1 }
        if view.count >= 2, view[index] == 0x0D, view[index + 1] == 0x0A { return index + 2 }
        while index < view.endIndex {
            if view[index] == 0x0A {
                let next = index + 1
                if next < view.endIndex, view[next] == 0x0A { return next + 1 }
                if next + 1 < view.endIndex, view[next] == 0x0D, view[next + 1] == 0x0A { return next + 2 }
            }
            index += 1
        }
        return nil
    }
}
