import CBLAS
import Foundation
import MFA

/// A float32 buffer in host memory.
public final class CPUBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    subscript(range: Range<Int>) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer + range.lowerBound, count: range.count)
    }
}

/// The Backend on OpenBLAS: GEMMs through cblas_sgemm, the named kernels as plain loops (they
/// are the reference every other backend is checked against), l×l work through LAPACKE.
///
/// One thread pool for everything: OpenBLAS runs single-threaded and the backend splits each GEMM
/// into one block per core itself, as it does for its own passes. OpenBLAS's own workers would
/// otherwise spin between calls and take the cores from the passes between GEMMs (measured on
/// 2 cores: the projection ran 6× slower). Creating a CPUBackend sets OpenBLAS to one thread for
/// the whole process.
public final class CPUBackend: Backend, @unchecked Sendable {
    public typealias Buffer = CPUBuffer

    /// Threads the backend runs GEMMs and passes on.
    public var threads: Int { CPUThreads.count }

    public init() {
        openblas_set_num_threads(1)
    }

    public var name: String { "cpu (OpenBLAS, \(threads) thread\(threads == 1 ? "" : "s"))" }

    public func makeBuffer(count: Int) throws -> CPUBuffer {
        guard count >= 0 else { throw MFAError.invalidArgument("negative buffer size \(count)") }
        return CPUBuffer(count: count)
    }

    public func write(_ values: UnsafeBufferPointer<Float>, to buffer: CPUBuffer, offset: Int) throws {
        try checkRange(buffer, offset, values.count)
        guard let base = values.baseAddress else { return }
        (buffer.pointer + offset).update(from: base, count: values.count)
    }

    public func read(_ buffer: CPUBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws {
        try checkRange(buffer, offset, values.count)
        guard let base = values.baseAddress else { return }
        base.update(from: buffer.pointer + offset, count: values.count)
    }

    private func checkRange(_ buffer: CPUBuffer, _ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset + count <= buffer.count else {
            throw MFAError.invalidArgument("range \(offset)..<\(offset + count) outside a buffer of \(buffer.count)")
        }
    }

    /// Splits C into one block of rows (or of columns, when C is wider than tall) per core; each
    /// block is an independent single-threaded cblas_sgemm.
    public func gemm(_ p: MatrixProduct, a: CPUBuffer, b: CPUBuffer, c: CPUBuffer) throws {
        guard p.m > 0, p.n > 0 else { return }
        let splitRows = p.m >= p.n
        try forEachChunk(of: splitRows ? p.m : p.n, minimumChunk: 32) { range in
            var block = p
            if splitRows {
                block.m = range.count
                block.aOffset += range.lowerBound * (p.transposeA ? 1 : p.lda)
                block.cOffset += range.lowerBound * p.ldc
            } else {
                block.n = range.count
                block.bOffset += range.lowerBound * (p.transposeB ? p.ldb : 1)
                block.cOffset += range.lowerBound
            }
            sgemm(block, a: a, b: b, c: c)
        }
    }

    private func sgemm(_ p: MatrixProduct, a: CPUBuffer, b: CPUBuffer, c: CPUBuffer) {
        cblas_sgemm(CblasRowMajor, p.transposeA ? CblasTrans : CblasNoTrans, p.transposeB ? CblasTrans : CblasNoTrans,
                    blasInt(p.m), blasInt(p.n), blasInt(p.k), p.alpha, a.pointer + p.aOffset, blasInt(p.lda),
                    b.pointer + p.bOffset, blasInt(p.ldb), p.beta, c.pointer + p.cOffset, blasInt(p.ldc))
    }
}

@inline(__always) func blasInt(_ value: Int) -> blasint { blasint(value) }
