import Foundation

/// Finds a Python 3 for which `check` (a `python3 -c` snippet, e.g. `import dnslib`) succeeds:
/// `extra` first, then `$MAILNODE_PYTHON`, `/usr/bin/python3` (where Debian's packages install),
/// then every `python3` on `$PATH`. Spawns and waits: call it off the cooperative pool
/// (``offThePool(_:)``), as the `static let`s that cache it are.
enum PythonInterpreter {
    static func find(_ check: String, extra: [String] = [], missing: String) -> Result<URL, DNSTestServerUnavailable> {
        var candidates = extra
        if let configured = ProcessInfo.processInfo.environment["MAILNODE_PYTHON"] { candidates.append(configured) }
        candidates.append("/usr/bin/python3")
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/python3")
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: candidate)
            probe.arguments = ["-c", check]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { continue }
            probe.waitUntilExit()
            if probe.terminationStatus == 0 { return .success(URL(fileURLWithPath: candidate)) }
        }
        return .failure(DNSTestServerUnavailable(description: "\(missing) Tried: \(candidates.joined(separator: ", "))"))
    }
}
