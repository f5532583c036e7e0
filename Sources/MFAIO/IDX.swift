import MFA

/// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), optionally
/// gzipped: two zero bytes, a type byte, the number of dimensions, then big-endian sizes.
public enum IDX {
    public static func isIDX(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0 && bytes[1] == 0 && [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].contains(bytes[2])
    }

    /// The array; `isBytes` tells whether the values were unsigned bytes.
    public static func parse(_ bytes: [UInt8], path: String) throws -> NumpyArray {
        let header = try parseHeader(bytes, path: path)
        guard header.count.multipliedReportingOverflow(by: header.scalar.width).partialValue == bytes.count - header.dataOffset,
              !header.count.multipliedReportingOverflow(by: header.scalar.width).overflow else {
            throw MFAError.malformedFile(
                path: path, reason: "header promises shape \(header.shape) but the file holds \(bytes.count - header.dataOffset) data bytes")
        }
        let values = header.scalar.decode(bytes[header.dataOffset...], count: header.count)
        return NumpyArray(shape: header.shape, dtype: header.dtype, values: values)
    }

    /// What an IDX header says, and where the data begin (`bytes` needs only hold the header).
    static func parseHeader(_ bytes: [UInt8], path: String) throws -> Numpy.Header {
        var reader = ByteReader(bytes, path: path)
        let magic = try reader.take(4, what: "the magic number")
        guard magic[magic.startIndex] == 0, magic[magic.startIndex + 1] == 0 else {
            throw MFAError.malformedFile(path: path, reason: "not an IDX file (wrong magic)")
        }
        let type = magic[magic.startIndex + 2], rank = Int(magic[magic.startIndex + 3])
        guard rank >= 1 else { throw MFAError.malformedFile(path: path, reason: "IDX file with no dimensions") }
        let shape = try (0..<rank).map { _ in Int(try reader.bigEndianUInt32(what: "the dimensions")) }
        let (width, dtype): (Int, String)
        switch type {
        case 0x08: (width, dtype) = (1, "|u1")
        case 0x09: (width, dtype) = (1, "|i1")
        case 0x0B: (width, dtype) = (2, ">i2")
        case 0x0C: (width, dtype) = (4, ">i4")
        case 0x0D: (width, dtype) = (4, ">f4")
        case 0x0E: (width, dtype) = (8, ">f8")
        default: throw MFAError.malformedFile(path: path, reason: "unknown IDX type 0x\(String(type, radix: 16))")
        }
        guard let count = checkedProduct(shape), width > 0 else {
            throw MFAError.malformedFile(path: path, reason: "shape \(shape) is impossible")
        }
        return Numpy.Header(shape: shape, dtype: dtype, scalar: Numpy.Scalar(dtype)!, count: count, dataOffset: reader.position)
    }
}
