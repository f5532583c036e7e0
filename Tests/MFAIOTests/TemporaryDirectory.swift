import Foundation

/// A fresh directory per test, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "mfa-io-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String, bytes: [UInt8]) -> String {
        let file = path + "/" + name
        precondition(FileManager.default.createFile(atPath: file, contents: Data(bytes)), "cannot write \(file)")
        return file
    }

    func file(_ name: String, text: String) -> String { file(name, bytes: Array(text.utf8)) }
}

/// A hand-made .npy header (version 1) followed by `data`.
func npyBytes(descr: String, shape: String, fortran: Bool = false, data: [UInt8]) -> [UInt8] {
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
    header += String(repeating: " ", count: (64 - (10 + header.count + 1) % 64) % 64) + "\n"
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + Array(header.utf8) + data
}

func floatBytes(_ values: [Float]) -> [UInt8] { values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } } }
