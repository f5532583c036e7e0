import Foundation
import MFA

/// What a file holds, told from its first bytes as the readers tell it: so that an output about
/// to replace an existing file can see that the file is something else (the user's data, a model,
/// a run's checkpoint) and refuse, before any work is done.
public enum FileKind: String, Sendable {
    case numpy = "a NumPy array"
    case idx = "an IDX array"
    case gzip = "a gzip file"
    case model = "a model (safetensors)"
    case checkpoint = "a training checkpoint"
    case safetensors = "a safetensors file"
    case png = "a PNG image"
    case text = "a text file"
    case other = "a binary file"

    /// How much of a file is read to tell text from binary: a FITS header is 2,880 ASCII bytes, a
    /// PDF's first binary bytes come after its first line.
    static let inspected = 1 << 16

    /// The kind of the file at `path`; nil when it is empty. Throws when it cannot be read.
    public static func of(path: String) throws -> FileKind? {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw MFAError.fileAccess(path: path, reason: "cannot be read (\(String(cString: strerror(errno)))), so what it holds cannot be told")
        }
        defer { try? handle.close() }
        var head = Array((try handle.read(upToCount: inspected)) ?? Data())
        guard !head.isEmpty else { return nil }
        // A safetensors header longer than what was read (many tensors): read the rest of it.
        if let length = safetensorsHeaderLength(head), 8 + length > head.count, length < 1 << 26 {
            head += Array((try handle.read(upToCount: 8 + length - head.count)) ?? Data())
        }
        return of(head)
    }

    /// The kind of a file that begins with `head`.
    public static func of(_ head: [UInt8]) -> FileKind {
        if Numpy.isNumpy(head) { return .numpy }
        if Gzip.isCompressed(head) { return .gzip }
        if head.starts(with: PNG.signature) { return .png }
        if let length = safetensorsHeaderLength(head) {
            guard 8 + length <= head.count,
                  let header = try? JSONSerialization.jsonObject(with: Data(head[8..<(8 + length)])) as? [String: Any],
                  let metadata = header["__metadata__"] as? [String: Any] else { return .safetensors }
            switch metadata["kind"] as? String {
            case ModelFile.mfaKind, ModelFile.dgmmKind: return .model
            case CheckpointFile.kind, CheckpointFile.previousKind: return .checkpoint
            default: return .safetensors
            }
        }
        if IDX.isIDX(head) { return .idx }
        let binary = head.contains { $0 < 0x20 && ![0x09, 0x0A, 0x0C, 0x0D].contains($0) }
        return binary ? .other : .text
    }

    /// A safetensors file begins with its JSON header's length (8 bytes, little-endian), then "{".
    static func safetensorsHeaderLength(_ head: [UInt8]) -> Int? {
        guard head.count > 8, head[8] == UInt8(ascii: "{"), head[4..<8].allSatisfy({ $0 == 0 }) else { return nil }
        return head[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
    }
}
