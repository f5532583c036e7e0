import CZlib
import MFA

/// gzip decompression through zlib, refusing to produce more than `limit` bytes: by default
/// 16 GiB or a quarter of physical memory, whichever is less, since the decompressed bytes are
/// then decoded (uint8 pixels to float32: four bytes each).
enum Gzip {
    static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    static func decompress(_ bytes: [UInt8], path: String, limit: Int = min(1 << 34, MemoryLimit.physicalBytes / 4)) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw MFAError.malformedFile(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        var input = bytes
        try input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            repeat {
                status = chunk.withUnsafeMutableBufferPointer { target -> Int32 in
                    stream.next_out = target.baseAddress
                    stream.avail_out = uInt(target.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else {
                    throw MFAError.malformedFile(path: path, reason: "decompresses to more than \(MemoryLimit.byteText(limit)), more than this machine's memory allows")
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 { break }
            } while status == Z_OK
        }
        guard status == Z_STREAM_END else {
            throw MFAError.malformedFile(path: path, reason: "corrupt or truncated gzip stream (zlib status \(status))")
        }
        return output
    }
}
