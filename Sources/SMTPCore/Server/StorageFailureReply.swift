#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error that knows which reply the client should get (a receiver can throw one).
public protocol SMTPReplyError: Error {
    var reply: Reply { get }
}

/// The reply for a failure to open, write or commit a message.
enum StorageFailureReply {
    /// `452 4.3.1` when the disk (or quota) is full (RFC 3463 X.3.1: mail system full), so
    /// clients retry later; `451 4.3.0` for anything else; a receiver's own reply if it has one.
    static func reply(for error: any Error) -> Reply {
        if let error = error as? any SMTPReplyError { return error.reply }
        if let failure = error as? DurableFile.Failure, failure.code == ENOSPC || failure.code == EDQUOT {
            return Reply(.insufficientStorage, .systemFull, "Insufficient system storage, try again later")
        }
        return Reply(.localError, .temporarySystemError, "Local error in processing, try again later")
    }
}
