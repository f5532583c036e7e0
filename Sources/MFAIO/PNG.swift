import CZlib
import MFA

/// Writes 8-bit greyscale PNG images (zlib for the compressed stream and the CRCs).
public enum PNG {
    /// The eight bytes every PNG file begins with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// `pixels` is height × width, row-major, values in [0, 1] (clamped).
    public static func writeGreyscale(_ pixels: [Float], width: Int, height: Int, to path: String) throws {
        precondition(pixels.count == width * height)
        var raw = [UInt8]()
        raw.reserveCapacity((width + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter: none
            for x in 0..<width {
                let value = pixels[y * width + x]
                raw.append(UInt8((min(max(value.isFinite ? value : 0, 0), 1) * 255).rounded()))
            }
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        guard compress2(&compressed, &compressedLength, raw, uLong(raw.count), 6) == Z_OK else {
            throw MFAError.fileAccess(path: path, reason: "zlib could not compress the image")
        }
        var bytes = signature
        let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 0, 0, 0, 0]
        bytes += chunk("IHDR", header)
        bytes += chunk("IDAT", Array(compressed[0..<Int(compressedLength)]))
        bytes += chunk("IEND", [])
        try AtomicFile.write(bytes, to: path)
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = UInt32(crc32(0, body, uInt(body.count)))
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
}
