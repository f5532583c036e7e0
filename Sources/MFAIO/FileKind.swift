import Foundation

/// What a file holds, told from its first bytes as the readers tell it: so that an output about
/// to replace an existing file can see that the file is something else (the user's data, a model)
/// and refuse, before any work is done.
public enum FileKind: String, Sendable {
    case numpy = "a NumPy array"
    case idx = "an IDX array"
    case gzip = "a gzip file"
    case safetensors = "a safetensors file (a model or checkpoint)"
    case png = "a PNG image"
    case text = "a text file"
    case other = "a binary file"

    /// The kind of the file at `path`, or nil when there is none or it is empty or unreadable.
    public static func of(path: String) -> FileKind? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 64), !head.isEmpty else { return nil }
        return of(Array(head))
    }

    /// The kind of a file that begins with `head`.
    public static func of(_ head: [UInt8]) -> FileKind {
        if Numpy.isNumpy(head) { return .numpy }
        if Gzip.isCompressed(head) { return .gzip }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        // safetensors: an 8-byte little-endian header length, then the JSON header.
        if head.count > 8, head[8] == UInt8(ascii: "{"), head[4..<8].allSatisfy({ $0 == 0 }) { return .safetensors }
        if IDX.isIDX(head) { return .idx }
        let binary = head.contains { $0 < 0x20 && ![0x09, 0x0A, 0x0D].contains($0) }
        return binary ? .other : .text
    }
}
