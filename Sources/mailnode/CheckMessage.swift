import ArgumentParser
import Defenses
import Foundation

/// Reading the message of `check dkim|dmarc|arc` from standard input.
enum CheckMessage {
    /// Reads standard input in 64 KiB chunks: the header is split off by ``MessageReader`` and
    /// every body chunk goes to `body` (DKIM hashes it as it passes). A header past the limits
    /// exits with status 2 and a message on standard error.
    static func read(body: (MessageHeader, ArraySlice<UInt8>) -> Void) throws -> MessageHeader {
        var reader = MessageReader()
        do {
            while let chunk = try FileHandle.standardInput.read(upToCount: 64 * 1024), !chunk.isEmpty {
                let bodyPart = try reader.feed(Array(chunk))
                if let header = reader.header { body(header, bodyPart) }
            }
            if reader.header == nil {
                let header = try reader.finish()
                body(header, [])
                return header
            }
            return try reader.finish()
        } catch let error as MessageError {
            FileHandle.standardError.write(Data("mailnode: the message was refused: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
