import CCrypt
import Foundation
import NIOPosix

/// Password hashes in crypt(3) form through the system's libxcrypt (Debian's `libcrypt1`).
///
/// New hashes are **yescrypt** (`$y$…`): memory-hard like scrypt and Argon2, the default of
/// libxcrypt and of Debian's `/etc/shadow` since bookworm, and computed by a maintained C library
/// instead of a KDF of our own; the strings are the standard crypt(3) form, so hashes from
/// `/etc/shadow`, Dovecot (`{CRYPT}`) or `mkpasswd` can be imported as they are. Verification
/// accepts every method libxcrypt supports that is still considered strong (yescrypt, scrypt
/// `$7$`, bcrypt `$2b$`, SHA-512-crypt `$6$`, SHA-256-crypt `$5$`) and refuses the weak ones
/// (DES, MD5-crypt `$1$`, NT `$3$`).
///
/// Hashing costs tens of milliseconds on purpose; both calls run on NIO's blocking thread pool,
/// never on an event loop or the cooperative pool (DESIGN.md §3.3).
public enum PasswordHash {
    /// yescrypt's cost factor (libxcrypt's default, 5: about 16 MiB and tens of ms).
    public static let defaultCost: UInt = 5

    public enum Failure: Error, Sendable, Hashable {
        /// The password is empty or longer than libxcrypt accepts (512 bytes).
        case unusablePassword
        /// libxcrypt could not make a setting or a hash.
        case hashingFailed
    }

    /// A new yescrypt hash of `password` with a fresh random salt.
    public static func make(_ password: String, cost: UInt = defaultCost) async throws -> String {
        guard !password.isEmpty, password.utf8.count < 512, !password.utf8.contains(0) else { throw Failure.unusablePassword }
        return try await NIOThreadPool.singleton.runIfActive {
            var entropy = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in entropy.indices { entropy[index] = generator.next() }
            var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
            let made = entropy.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    crypt_gensalt_rn("$y$", cost, chars.baseAddress, Int32(chars.count), &setting, Int32(setting.count))
                }
            }
            guard made != nil else { throw Failure.hashingFailed }
            let settingText = String(decoding: setting.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let hash = hash(password, setting: settingText), hash.hasPrefix("$y$") else { throw Failure.hashingFailed }
            return hash
        }
    }

    /// Whether `password` matches `stored` (a crypt(3) string); false for weak or unknown methods.
    public static func verify(_ password: String, against stored: String) async -> Bool {
        guard isAcceptedMethod(stored), !password.isEmpty, password.utf8.count < 512, !password.utf8.contains(0) else { return false }
        let computed: String?? = try? await NIOThreadPool.singleton.runIfActive { hash(password, setting: stored) }
        guard case .some(.some(let computed)) = computed else { return false }
        return constantTimeEqual(Array(computed.utf8), Array(stored.utf8))
    }

    /// The methods verification accepts (the prefixes of strong crypt(3) methods).
    public static func isAcceptedMethod(_ stored: String) -> Bool {
        ["$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$", "$5$"].contains { stored.hasPrefix($0) }
    }

    /// crypt_rn on a zeroed 32 KiB work area; nil when libxcrypt refuses (its failure strings start with `*`).
    static func hash(_ password: String, setting: String) -> String? {
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            memset(data, 0, MemoryLayout<crypt_data>.size)   // no password bytes left behind
            data.deallocate()
        }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_rn(password, setting, data, Int32(MemoryLayout<crypt_data>.size)) else { return nil }
        let text = String(cString: result)
        return text.hasPrefix("*") ? nil : text
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
