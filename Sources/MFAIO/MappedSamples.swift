import Foundation
import MFA

/// A 2-D (or N×H×W) `.npy` or uncompressed IDX file read through a memory mapping, for data
/// larger than memory:
/// rows are decoded on demand (uint8 pixels scaled to [0, 1], NaN and infinity rejected with their
/// position), training visits it block by block (`blockRows`, about 8 MiB each), and every block is
/// handed back to the kernel (`madvise(MADV_DONTNEED)`) once used, so resident memory stays near
/// one block however large the file.
public final class MappedSamples: SampleSource, @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let imageShape: ImageShape?
    public let blockRows: Int?
    let path: String
    let mapping: UnsafeMutableRawPointer
    let length: Int
    let dataOffset: Int
    let scalar: Numpy.Scalar
    let isBytes: Bool

    public init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw MFAError.fileAccess(path: path, reason: errno == ENOENT ? "no such file" : "cannot be read")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw MFAError.fileAccess(path: path, reason: "cannot be read") }
        let size = Int(status.st_size)
        var prefix = [UInt8](repeating: 0, count: min(size, 1 << 16))
        guard pread(descriptor, &prefix, prefix.count, 0) == prefix.count else {
            throw MFAError.fileAccess(path: path, reason: "cannot be read")
        }
        let header = Numpy.isNumpy(prefix) ? try Numpy.parseHeader(prefix, path: path) : try IDX.parseHeader(prefix, path: path)
        guard let rows = header.shape.first, header.shape.count >= 1 else {
            throw MFAError.malformedFile(path: path, reason: "a scalar is not a data set")
        }
        let (bytes, overflow) = header.count.multipliedReportingOverflow(by: header.scalar.width)
        guard !overflow, header.dataOffset + bytes == size else {
            throw MFAError.malformedFile(path: path, reason: "header promises \(header.shape) \(header.dtype) but the file holds \(size - header.dataOffset) data bytes")
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw MFAError.fileAccess(path: path, reason: "cannot be memory-mapped (\(String(cString: strerror(errno))))")
        }
        self.path = path
        self.mapping = mapping
        length = size
        dataOffset = header.dataOffset
        scalar = header.scalar
        isBytes = header.dtype.hasSuffix("u1")
        self.rows = rows
        columns = rows > 0 ? header.count / rows : checkedProduct(Array(header.shape.dropFirst())) ?? 0
        imageShape = header.shape.count == 3 ? ImageShape(height: header.shape[1], width: header.shape[2]) : nil
        blockRows = max(1, (8 << 20) / max(columns * header.scalar.width, 1))
        guard rows > 0, columns > 0 else { throw MFAError.malformedFile(path: path, reason: "holds no samples") }
    }

    deinit { munmap(mapping, length) }

    /// Exact for float64 files; the others as `copyRow(_:into:)` gives them.
    public func copyRow(_ index: Int, intoDoubles target: UnsafeMutablePointer<Double>) throws {
        guard scalar.kind == "f", scalar.width == 8 else {
            return try withUnsafeTemporaryAllocation(of: Float.self, capacity: columns) { row in
                try copyRow(index, into: row.baseAddress!)
                for j in 0..<columns { target[j] = Double(row[j]) }
            }
        }
        let row = UnsafeRawPointer(mapping) + dataOffset + index * columns * 8
        for j in 0..<columns {
            var bits: UInt64 = 0
            for b in 0..<8 {
                bits |= UInt64(row.load(fromByteOffset: j * 8 + (scalar.bigEndian ? 7 - b : b), as: UInt8.self)) << (8 * UInt64(b))
            }
            target[j] = Double(bitPattern: bits)
            guard target[j].isFinite else { throw MFAError.nonFiniteInput("\(path) holds \(target[j]) at row \(index), column \(j)") }
        }
    }

    public func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws {
        let width = scalar.width
        let row = UnsafeRawPointer(mapping) + dataOffset + index * columns * width
        if scalar.kind == "f", width == 4, !scalar.bigEndian {
            UnsafeMutableRawPointer(target).copyMemory(from: row, byteCount: columns * 4)
        } else {
            for j in 0..<columns {
                var bits: UInt64 = 0
                for b in 0..<width {
                    let byte = UInt64(row.load(fromByteOffset: j * width + (scalar.bigEndian ? width - 1 - b : b), as: UInt8.self))
                    bits |= byte << (8 * UInt64(b))
                }
                target[j] = scalar.value(bits) / (isBytes ? 255 : 1)
            }
        }
        for j in 0..<columns where !target[j].isFinite {
            throw MFAError.nonFiniteInput("\(path) holds \(target[j]) at row \(index), column \(j)")
        }
    }

    public func release(_ range: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataOffset + range.lowerBound * columns * scalar.width
        let end = dataOffset + range.upperBound * columns * scalar.width
        let alignedStart = (start / page) * page
        madvise(mapping + alignedStart, end - alignedStart, MADV_DONTNEED)
    }
}
