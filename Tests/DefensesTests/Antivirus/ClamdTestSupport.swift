import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Defenses

/// Test data under Fixtures/antivirus.
enum AntivirusFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/antivirus")
    static var databases: URL { root.appendingPathComponent("db") }

    /// The 68-octet EICAR test file, decoded from eicar.json (never stored raw in the repository).
    static func eicar() throws -> [UInt8] {
        let data = try Data(contentsOf: root.appendingPathComponent("eicar.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let base64 = object?["base64"] as? String, let decoded = Data(base64Encoded: base64), decoded.count == 68 else {
            throw ClamdUnavailable(description: "Fixtures/antivirus/eicar.json has no 68-octet base64 EICAR")
        }
        return Array(decoded)
    }
}

/// Why a live clamd test cannot run; says what to install. Tests fail with it, never skip.
struct ClamdUnavailable: Error, CustomStringConvertible {
    var description: String
}

/// A clamd process of our own: generated clamd.conf in a temporary directory, databases copied
/// from Fixtures/antivirus/db, loopback TCP on a free port and a Unix socket.
final class ClamdProcess: @unchecked Sendable {  // fields are immutable after init; Process is thread-safe for these calls
    let directory: URL
    let port: Int
    let socketPath: String
    private let process: Process

    var tcp: ClamdEndpoint { .tcp(host: "127.0.0.1", port: port) }
    var unix: ClamdEndpoint { .unixSocket(path: socketPath) }
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("clamd.log"), encoding: .utf8)) ?? "" }

    static let candidates = ["/usr/sbin/clamd", "/usr/bin/clamd", "/usr/local/sbin/clamd"]

    static func executable() throws -> String {
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ClamdUnavailable(description:
                "clamd not found (looked in \(candidates.joined(separator: ", "))): "
                + "install Debian's clamav-daemon and clamav (`apt-get install clamav-daemon clamav`, see .ci/install-deps). "
                + "No freshclam is needed: the tests bring their own signatures.")
        }
        return path
    }

    /// Starts clamd and waits until it answers `zPING` with `PONG`.
    /// `extraConfiguration`: more clamd.conf lines (e.g. `AlertExceedsMax yes`).
    static func start(streamMaxLength: String? = nil, extraConfiguration: [String] = []) async throws -> ClamdProcess {
        let clamd = try executable()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mailnode-clamd-\(UUID().uuidString.prefix(8))", isDirectory: true)
        let db = directory.appendingPathComponent("db", isDirectory: true)
        try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: AntivirusFixtures.databases.path) {
            try FileManager.default.copyItem(at: AntivirusFixtures.databases.appendingPathComponent(file),
                                             to: db.appendingPathComponent(file))
        }
        // A free port can be taken by a parallel test before clamd binds it (clamd then serves only
        // its Unix socket): such a start is retried on a new port.
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await start(clamd: clamd, directory: directory, port: try await freePort(),
                                       streamMaxLength: streamMaxLength, extraConfiguration: extraConfiguration)
            } catch is PortTaken where attempt < 3 {
                continue
            }
        }
    }

    /// clamd's TCP port answered nobody or somebody else while its Unix socket answered PONG.
    struct PortTaken: Error {}

    private static func start(clamd: String, directory: URL, port: Int, streamMaxLength: String?,
                              extraConfiguration: [String]) async throws -> ClamdProcess {
        let socketPath = directory.appendingPathComponent("clamd.sock").path
        try? FileManager.default.removeItem(atPath: socketPath)
        var conf = """
            Foreground yes
            TCPSocket \(port)
            TCPAddr 127.0.0.1
            LocalSocket \(socketPath)
            DatabaseDirectory \(directory.appendingPathComponent("db").path)
            LogFile \(directory.appendingPathComponent("clamd.log").path)
            TemporaryDirectory \(directory.path)
            SelfCheck 0

            """
        // No `User` line: clamd keeps running as the invoking user (root on CI), who can read
        // this private directory; `User clamav` could not.
        if let streamMaxLength { conf += "StreamMaxLength \(streamMaxLength)\n" }
        for line in extraConfiguration { conf += line + "\n" }
        try conf.write(to: directory.appendingPathComponent("clamd.conf"), atomically: true, encoding: .utf8)
        return try await launch(clamd: clamd, directory: directory, port: port, socketPath: socketPath)
    }

    /// Runs clamd on the clamd.conf in `directory` and waits for `PONG`.
    private static func launch(clamd: String, directory: URL, port: Int, socketPath: String) async throws -> ClamdProcess {
        let confPath = directory.appendingPathComponent("clamd.conf")
        let process = Process()
        // The test runner blocks signals and children inherit the mask: a one-line Perl shim
        // clears it so that SIGTERM stops clamd (as in the SMTPCore interop support).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = ["-MPOSIX", "-e",
                             #"sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!"; exec { $ARGV[0] } @ARGV or die "exec: $!";"#,
                             clamd, "-c", confPath.path]
        let output = directory.appendingPathComponent("clamd.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: output)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let instance = ClamdProcess(directory: directory, port: port, socketPath: socketPath, process: process)

        let client = ClamdClient(configuration: ClamdConfiguration(endpoints: [instance.unix, instance.tcp], connectTimeout: .seconds(1)))
        let deadline = ContinuousClock.now + .seconds(120)
        var unixReadySince: ContinuousClock.Instant?
        while ContinuousClock.now < deadline {
            if unixReadySince == nil, case .success = await client.ping(instance.unix) { unixReadySince = .now }
            if unixReadySince != nil, case .success = await client.ping(instance.tcp) { return instance }
            if let since = unixReadySince, ContinuousClock.now - since > .seconds(10) {
                await instance.terminate()   // keeps the directory (and its signatures) for the retry
                throw PortTaken()
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let out = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        await instance.stop()
        throw ClamdUnavailable(description: "clamd did not answer PING: \(out)\n\(instance.log)")
    }

    /// Starts clamd again after ``terminate()``, on the same port and socket with the same
    /// directory: a restarted scanner, as an operator would do it.
    func relaunched() async throws -> ClamdProcess {
        await terminate()
        return try await ClamdProcess.launch(clamd: try ClamdProcess.executable(), directory: directory, port: port,
                                             socketPath: socketPath)
    }

    private init(directory: URL, port: Int, socketPath: String, process: Process) {
        self.directory = directory
        self.port = port
        self.socketPath = socketPath
        self.process = process
    }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL if it lingers; removes the directory.
    func stop() async {
        await terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    /// SIGTERM, then SIGKILL if it lingers; keeps the directory (``relaunched()``).
    func terminate() async {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }

    /// A loopback port nothing listens on right now.
    /// (Below the ephemeral range 32768–60999, so another test's outgoing connection cannot take it.)
    static func freePort() async throws -> Int {
        for _ in 0..<100 {
            let candidate = Int.random(in: 20_000..<32_000)
            if let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: candidate).get() {
                try await channel.close()
                return candidate
            }
        }
        throw ClamdUnavailable(description: "no free port between 20000 and 32000")
    }
}

/// Runs `body` with a fresh clamd and stops it afterwards, whatever happens.
func withClamd<T>(streamMaxLength: String? = nil, extraConfiguration: [String] = [],
                  _ body: (ClamdProcess) async throws -> T) async throws -> T {
    let clamd = try await ClamdProcess.start(streamMaxLength: streamMaxLength, extraConfiguration: extraConfiguration)
    do {
        let result = try await body(clamd)
        await clamd.stop()
        return result
    } catch {
        await clamd.stop()
        throw error
    }
}

/// Test messages.
enum AntivirusMessages {
    static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedString()
        var lines: [String] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(76)))
            rest = rest.dropFirst(76)
        }
        return lines.joined(separator: "\r\n")
    }

    static let clean = "From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nJust text, nothing to see.\r\n"

    /// A multipart/mixed message with `attachment` base64-encoded as a part named `name`.
    static func withAttachment(_ attachment: [UInt8], name: String, type: String = "application/octet-stream") -> String {
        """
        From: a@example.org\r
        To: b@example.net\r
        Subject: see attachment\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed; boundary="XyZ"\r
        \r
        preamble\r
        --XyZ\r
        Content-Type: text/plain; charset=utf-8\r
        \r
        Please find the file attached.\r
        --XyZ\r
        Content-Type: \(type); name="\(name)"\r
        Content-Disposition: attachment; filename="\(name)"\r
        Content-Transfer-Encoding: base64\r
        \r
        \(base64Lines(attachment))\r
        --XyZ--\r

        """
    }
}

extension AntivirusMessages {
    /// A multipart/mixed message forwarding `inner` as a message/rfc822 part (RFC 2046 §5.2.1).
    static func forwarding(_ inner: String) -> String {
        "From: c@example.org\r\nTo: d@example.net\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n--fwd\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
            + "--fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--fwd--\r\n"
    }
}

/// A minimal ZIP writer for tests (stored entries, real CRC-32; PKWARE APPNOTE §4.3).
enum TestZip {
    /// `declaredSizes` overrides the uncompressed sizes written in the central directory (and
    /// marks those entries deflated): a fake "zip bomb" directory without the bomb.
    static func make(_ files: [(name: String, data: [UInt8])], declaredSizes: [UInt32]? = nil) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (index, file) in files.enumerated() {
            let declared = declaredSizes?[index] ?? UInt32(file.data.count)
            let method: UInt16 = declared == UInt32(file.data.count) ? 0 : 8
            let offset = UInt32(out.count)
            let crc = crc32(file.data)
            let name = Array(file.name.utf8)
            out += le32(0x0403_4B50) + le16(20) + le16(0x0800) + le16(0) + le16(0) + le16(0)
                + le32(crc) + le32(UInt32(file.data.count)) + le32(UInt32(file.data.count))
                + le16(UInt16(name.count)) + le16(0) + name + file.data
            central += le32(0x0201_4B50) + le16(20) + le16(20) + le16(0x0800) + le16(method) + le16(0) + le16(0)
                + le32(crc) + le32(UInt32(file.data.count)) + le32(declared)
                + le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let centralOffset = UInt32(out.count)
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(files.count)) + le16(UInt16(files.count))
            + le32(UInt32(central.count)) + le32(centralOffset) + le16(0)
        return out
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }

    /// Table-driven: the bitwise loop took seconds per test ZIP in a debug build and held one of
    /// the cooperative pool's two CI threads all that time.
    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            data.withUnsafeBufferPointer { bytes in
                for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            }
        }
        return ~crc
    }

    static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
        return value
    }
}
