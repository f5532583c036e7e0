import CZlib
import Foundation
import MFA

/// A named float32 tensor.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// A named float64 tensor (checkpoints keep host state in float64, exactly).
public struct Tensor64: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        self.shape = shape
        self.values = values
    }
}

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length, a JSON header naming each tensor's dtype, shape and byte range, then the data.
public enum Safetensors {
    /// Writes float32 `tensors` and float64 `float64` tensors (names must differ) with `metadata`.
    public static func write(_ tensors: [String: Tensor], float64: [String: Tensor64] = [:], metadata: [String: String],
                             to path: String) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        var data = [UInt8]()
        func add(_ name: String, dtype: String, shape: [Int], count: Int, bytes: UnsafeRawBufferPointer) throws {
            guard checkedProduct(shape) == count else {
                throw MFAError.shapeMismatch("tensor \(name) has \(count) values for shape \(shape)")
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.count]]
            offset += bytes.count
            data.append(contentsOf: bytes)  // little-endian hosts
        }
        for name in Set(tensors.keys).union(float64.keys).sorted() {
            if let tensor = tensors[name] {
                try tensor.values.withUnsafeBytes { try add(name, dtype: "F32", shape: tensor.shape, count: tensor.values.count, bytes: $0) }
            } else if let tensor = float64[name] {
                try tensor.values.withUnsafeBytes { try add(name, dtype: "F64", shape: tensor.shape, count: tensor.values.count, bytes: $0) }
            }
        }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        try AtomicFile.write(try sealed(littleEndianBytes(UInt64(json.count)) + json + data), to: path)
    }

    /// A file's tensors in their own precision: F32 as `Tensor`, F64 as `Tensor64`.
    public struct ExactFile {
        public var float32: [String: Tensor]
        public var float64: [String: Tensor64]
        public var metadata: [String: String]
    }

    public static func readExact(path: String) throws -> ExactFile {
        try parseExact(readFile(path), path: path)
    }

    public static func parseExact(_ bytes: [UInt8], path: String) throws -> ExactFile {
        let (entries, metadata) = try entries(bytes, path: path)
        var file = ExactFile(float32: [:], float64: [:], metadata: metadata)
        for (name, entry) in entries {
            if entry.width == 4 {
                file.float32[name] = Tensor(shape: entry.shape, values: Numpy.Scalar("<f4")!.decode(entry.bytes, count: entry.count))
            } else {
                file.float64[name] = Tensor64(shape: entry.shape, values: entry.bytes.withUnsafeBytes { raw in
                    (0..<entry.count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
                })
            }
        }
        return file
    }

    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try parse(readFile(path), path: path)
    }

    /// Every tensor as float32 (F64 tensors rounded), for model files.
    public static func parse(_ bytes: [UInt8], path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let (entries, metadata) = try entries(bytes, path: path)
        return (entries.mapValues { entry in
            Tensor(shape: entry.shape, values: Numpy.Scalar(entry.width == 4 ? "<f4" : "<f8")!.decode(entry.bytes, count: entry.count))
        }, metadata)
    }

    struct Entry {
        let shape: [Int]
        let width: Int
        let count: Int
        let bytes: ArraySlice<UInt8>
    }

    static func entries(_ bytes: [UInt8], path: String) throws -> (entries: [String: Entry], metadata: [String: String]) {
        var reader = ByteReader(bytes, path: path)
        let headerLength = try reader.littleEndianUInt(8, what: "the header length")
        guard headerLength <= UInt64(reader.remaining) else {
            throw MFAError.malformedFile(path: path, reason: "truncated: header length \(headerLength) exceeds the file")
        }
        let headerBytes = try reader.take(Int(headerLength), what: "the header")
        guard let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw MFAError.malformedFile(path: path, reason: "not a safetensors file (header is not a JSON object)")
        }
        let data = try reader.take(reader.remaining, what: "the data")
        let metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        try verifyChecksum(data, metadata: metadata, header: header, path: path)
        var tensors = [String: Entry]()
        for (name, entry) in header where name != "__metadata__" {
            guard let info = entry as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw MFAError.malformedFile(path: path, reason: "tensor \(name) has a malformed entry")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            default: throw MFAError.malformedFile(path: path, reason: "tensor \(name) has unsupported dtype \(dtype)")
            }
            guard let count = checkedProduct(shape), offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= data.count,
                  offsets[1] - offsets[0] == count.multipliedReportingOverflow(by: width).partialValue else {
                throw MFAError.malformedFile(path: path, reason: "tensor \(name): shape \(shape) does not match its bytes \(offsets)")
            }
            let slice = data[(data.startIndex + offsets[0])..<(data.startIndex + offsets[1])]
            tensors[name] = Entry(shape: shape, width: width, count: count, bytes: slice)
        }
        return (tensors, metadata)
    }
}

// MARK: Checksum

/// Files this project writes carry `__metadata__["checksum"] = "crc32:XXXXXXXX"`: zlib's CRC-32 of
/// the whole data section (every tensor's bytes, whatever the dtype) followed by every other
/// metadata entry (sorted by key, each as key, NUL, value, NUL). A flipped bit in the tensors or in
/// a checkpoint's position is then refused, not resumed from. Files without the key (numpy, the
/// safetensors library, older releases) are read as before.
extension Safetensors {
    static let checksumKey = "checksum"

    /// CRC-32 of the data, the metadata (but the checksum) and the tensor index (each tensor's name,
    /// dtype, shape and byte range), so that neither a flipped byte nor two swapped entries pass.
    static func checksum(_ data: ArraySlice<UInt8>, metadata: [String: String], header: [String: Any]) -> String {
        var crc = crc32(0, nil, 0)
        func add(_ bytes: UnsafeRawBufferPointer) {
            var start = 0
            while start < bytes.count {  // zlib's length is 32-bit
                let length = min(bytes.count - start, 1 << 30)
                crc = crc32(crc, bytes.baseAddress!.advanced(by: start).assumingMemoryBound(to: Bytef.self), uInt(length))
                start += length
            }
        }
        data.withUnsafeBytes(add)
        for key in metadata.keys.sorted() where key != checksumKey {
            (Array(key.utf8) + [0] + Array(metadata[key]!.utf8) + [0]).withUnsafeBytes(add)
        }
        for name in header.keys.sorted() where name != "__metadata__" {
            let entry = header[name] as? [String: Any] ?? [:]
            let text = "\(name)|\(entry["dtype"] ?? "")|\(entry["shape"] ?? "")|\(entry["data_offsets"] ?? "")"
            (Array(text.utf8) + [0]).withUnsafeBytes(add)
        }
        return String(format: "crc32:%08x", UInt32(crc))
    }

    /// `bytes` (a whole file as `write` assembles it) with the checksum added to its metadata.
    static func sealed(_ bytes: [UInt8]) throws -> [UInt8] {
        var reader = ByteReader(bytes, path: "")
        let headerLength = Int(try reader.littleEndianUInt(8, what: "the header length"))
        guard var header = try JSONSerialization.jsonObject(with: Data(try reader.take(headerLength, what: "the header"))) as? [String: Any] else {
            throw MFAError.invalidArgument("safetensors header is not a JSON object")
        }
        let data = bytes[(8 + headerLength)...]
        var metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        metadata[checksumKey] = checksum(data, metadata: metadata, header: header)
        header["__metadata__"] = metadata
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        return littleEndianBytes(UInt64(json.count)) + json + data
    }

    static func verifyChecksum(_ data: ArraySlice<UInt8>, metadata: [String: String], header: [String: Any], path: String) throws {
        guard let stored = metadata[checksumKey] else { return }
        let computed = checksum(data, metadata: metadata, header: header)
        guard stored == computed else {
            throw MFAError.malformedFile(path: path, reason: "corrupted: checksum \(computed) does not match the stored \(stored)")
        }
    }
}
