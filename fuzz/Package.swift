// swift-tools-version:6.1
// libFuzzer targets for the SMTP codec; built and run by fuzz/run.sh, not by `swift test`.
import Foundation
import PackageDescription

// The parent package's identity is its directory name, which differs between clones.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "mailnode-fuzz",
    dependencies: [.package(path: parent.path)],
    targets: [
        .executableTarget(
            name: "FuzzSMTPInput",
            dependencies: [.product(name: "SMTPCore", package: parent.lastPathComponent.lowercased())],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]
        ),
    ]
)
