import Foundation
import MFA

/// Bounds-checked reads from a byte buffer: every read that would run past the end throws a
/// "truncated" error naming the file, instead of trapping.
struct ByteReader {
    let bytes: [UInt8]
    let path: String
    var position = 0

    init(_ bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - position }

    mutating func take(_ count: Int, what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw MFAError.malformedFile(path: path, reason: "truncated: \(what) needs \(count) bytes, \(remaining) left")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func bigEndianUInt32(what: String) throws -> UInt32 {
        try take(4, what: what).reduce(0) { ($0 << 8) | UInt32($1) }
    }

    mutating func littleEndianUInt(_ width: Int, what: String) throws -> UInt64 {
        try take(width, what: what).reversed().reduce(0) { ($0 << 8) | UInt64($1) }
    }
}

/// Reads a whole file, with a one-line error if it cannot.
func readFile(_ path: String) throws -> [UInt8] {
    try FileIdentity.checkReadable(path)
    guard let data = FileManager.default.contents(atPath: path) else {
        let exists = FileManager.default.fileExists(atPath: path)
        throw MFAError.fileAccess(path: path, reason: exists ? "cannot be read" : "no such file")
    }
    return [UInt8](data)
}

/// The product of `dimensions`, or nil on overflow or a negative dimension: a lying header must
/// not turn into a huge allocation or a trap.
func checkedProduct(_ dimensions: [Int]) -> Int? {
    var total = 1
    for dimension in dimensions {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        total = product
    }
    return total
}
