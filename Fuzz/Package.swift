// swift-tools-version: 6.1
// The readers under libFuzzer and AddressSanitizer (`make fuzz`). A package of its own, so that the
// main package's plain build never links a fuzzer.
import Foundation
import PackageDescription

// A path dependency's identity is the name of its folder, which is whatever the clone was called
// (`main`, `swift-mfa`, `wt-safety`…), so it is read from where this manifest sits.
let parent = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "mfa-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        .executableTarget(name: "ReaderFuzzer", dependencies: ["CLibFuzzer", .product(name: "MFA", package: parent)],
                          path: "Sources/ReaderFuzzer"),
    ]
)
