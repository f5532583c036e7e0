import Foundation
import MFA

/// An array read from a `.npy` file: its shape, its numpy dtype, and its values as float32.
public struct NumpyArray: Sendable {
    public var shape: [Int]
    /// The numpy type string, e.g. "<f4", "|u1".
    public var dtype: String
    public var values: [Float]

    /// Whether the values were unsigned bytes (pixel data, scaled to [0, 1] by `DataFile`).
    public var isBytes: Bool { dtype.hasSuffix("u1") }
}

/// NumPy's `.npy` format, versions 1–3, C order (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
public enum Numpy {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func isNumpy(_ bytes: [UInt8]) -> Bool { bytes.starts(with: magic) }

    public static func read(path: String) throws -> NumpyArray {
        try parse(readFile(path), path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> NumpyArray {
        let header = try parseHeader(bytes, path: path)
        let (byteCount, overflow) = header.count.multipliedReportingOverflow(by: header.scalar.width)
        guard !overflow, header.dataOffset + byteCount == bytes.count else {
            throw MFAError.malformedFile(
                path: path,
                reason: "header promises \(header.shape) \(header.dtype) (\(header.count) values) but the file holds \(bytes.count - header.dataOffset) data bytes")
        }
        let data = bytes[header.dataOffset...]
        return NumpyArray(shape: header.shape, dtype: header.dtype, values: header.scalar.decode(data, count: header.count))
    }

    /// What a .npy header says, and where its data begin (`bytes` needs only hold the header).
    struct Header {
        let shape: [Int], dtype: String, scalar: Scalar, count: Int, dataOffset: Int
    }

    static func parseHeader(_ bytes: [UInt8], path: String) throws -> Header {
        var reader = ByteReader(bytes, path: path)
        guard try Array(reader.take(6, what: "the magic string")) == magic else {
            throw MFAError.malformedFile(path: path, reason: "not a .npy file (wrong magic)")
        }
        let version = try reader.take(2, what: "the version")
        let major = version.first!
        guard (1...3).contains(major) else {
            throw MFAError.malformedFile(path: path, reason: "unsupported .npy version \(major)")
        }
        let headerLength = Int(try reader.littleEndianUInt(major == 1 ? 2 : 4, what: "the header length"))
        let headerBytes = try reader.take(headerLength, what: "the header")
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw MFAError.malformedFile(path: path, reason: "unreadable header")
        }
        let dtype = try field("descr", in: header, path: path).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        let order = try field("fortran_order", in: header, path: path)
        guard order == "False" else {
            throw MFAError.malformedFile(path: path, reason: "Fortran-order arrays are not supported (save with np.ascontiguousarray)")
        }
        let shape = try parseShape(try field("shape", in: header, path: path), path: path)
        guard let count = checkedProduct(shape) else {
            throw MFAError.malformedFile(path: path, reason: "shape \(shape) is impossible")
        }
        guard let scalar = Scalar(dtype) else {
            throw MFAError.malformedFile(path: path, reason: "unsupported dtype \(dtype) (use float32, float64, an integer type or bool)")
        }
        return Header(shape: shape, dtype: dtype, scalar: scalar, count: count, dataOffset: reader.position)
    }

    /// The text of `key`'s value in the header dictionary (a Python literal).
    static func field(_ key: String, in header: String, path: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
              let colon = header[keyRange.upperBound...].firstIndex(of: ":") else {
            throw MFAError.malformedFile(path: path, reason: "header has no '\(key)'")
        }
        var rest = header[header.index(after: colon)...].drop(while: { $0 == " " })
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else {
                throw MFAError.malformedFile(path: path, reason: "header's '\(key)' is not closed")
            }
            return String(rest[...close])
        }
        if let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<end] }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    static func parseShape(_ text: String, path: String) throws -> [Int] {
        let inner = text.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        let parts = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return try parts.map {
            guard let value = Int($0), value >= 0 else {
                throw MFAError.malformedFile(path: path, reason: "bad shape \(text)")
            }
            return value
        }
    }

    /// The element types this reader understands.
    struct Scalar {
        let kind: Character, width: Int, bigEndian: Bool

        init?(_ dtype: String) {
            guard dtype.count >= 3, let order = dtype.first, "<>|=".contains(order),
                  let width = Int(dtype.dropFirst(2)) else { return nil }
            let kind = dtype[dtype.index(after: dtype.startIndex)]
            switch (kind, width) {
            case ("f", 4), ("f", 8), ("b", 1), ("u", 1), ("u", 2), ("u", 4), ("u", 8), ("i", 1), ("i", 2), ("i", 4), ("i", 8): break
            default: return nil
            }
            self.kind = kind
            self.width = width
            bigEndian = order == ">"
        }

        func decode(_ bytes: ArraySlice<UInt8>, count: Int) -> [Float] {
            // The common kinds without the per-value dispatch below (comparing Characters per
            // value was most of loading Fashion-MNIST).
            if kind == "u", width == 1 { return bytes.prefix(count).map(Float.init) }
            if kind == "f", width == 4, !bigEndian {
                var out = [Float](repeating: 0, count: count)
                out.withUnsafeMutableBytes { target in
                    bytes.withUnsafeBytes { source in target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(count * 4))) }
                }
                return out
            }
            var out = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for index in 0..<count {
                    var bits: UInt64 = 0
                    for b in 0..<width {
                        let byte = UInt64(raw[index * width + (bigEndian ? width - 1 - b : b)])
                        bits |= byte << (8 * UInt64(b))
                    }
                    out[index] = value(bits)
                }
            }
            return out
        }

        /// The value as float64: exact for every kind numpy files hold here.
        func exactValue(_ bits: UInt64) -> Double {
            kind == "f" && width == 8 ? Double(bitPattern: bits) : Double(value(bits))
        }

        func value(_ bits: UInt64) -> Float {
            switch (kind, width) {
            case ("f", 4): return Float(bitPattern: UInt32(truncatingIfNeeded: bits))
            case ("f", 8): return Float(Double(bitPattern: bits))
            case ("b", _): return bits == 0 ? 0 : 1  // numpy's bool, e.g. a mask from np.isnan
            case ("u", _): return Float(bits)
            default:
                let shift = UInt64(64 - 8 * width)
                return Float(Int64(bitPattern: bits << shift) >> Int64(shift))
            }
        }
    }

    // MARK: Writing

    /// Writes a C-order array atomically; `dtype` is "<f4", "<f8" or "<i8".
    public static func write(_ values: [Double], shape: [Int], dtype: String, to path: String) throws {
        guard checkedProduct(shape) == values.count else {
            throw MFAError.shapeMismatch("\(values.count) values cannot have shape \(shape)")
        }
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = magic.count + 2 + 2 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + values.count * 8)
        for value in values {
            switch dtype {
            case "<f4": bytes += littleEndianBytes(Float(value).bitPattern)
            case "<f8": bytes += littleEndianBytes(value.bitPattern)
            case "<i8": bytes += littleEndianBytes(UInt64(bitPattern: Int64(value)))
            default: throw MFAError.invalidArgument("cannot write dtype \(dtype)")
            }
        }
        try AtomicFile.write(bytes, to: path)
    }
}

func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}
