// swift-tools-version: 6.1
// The readers under libFuzzer and AddressSanitizer (`make fuzz`). A package of its own, so that the
// main package's plain build never links a fuzzer.
import PackageDescription

let package = Package(
    name: "mfa-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        .executableTarget(name: "ReaderFuzzer", dependencies: ["CLibFuzzer", .product(name: "MFA", package: "main")],
                          path: "Sources/ReaderFuzzer"),
    ]
)
