import CBLAS
import Foundation
import MFA

/// A buffer in host memory, of float32 or float64 values (its backend's precision).
public final class CPUBuffer: @unchecked Sendable {
    public let count: Int
    public let precision: CPUPrecision
    private let raw: UnsafeMutableRawPointer

    init(count: Int, precision: CPUPrecision) {
        self.count = count
        self.precision = precision
        raw = .allocate(byteCount: max(count, 1) * precision.bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * precision.bytes)
    }

    deinit { raw.deallocate() }

    /// The values, as the backend's scalar type.
    func values<T: CPUScalar>(_: T.Type) -> UnsafeMutablePointer<T> {
        precondition(MemoryLayout<T>.size == precision.bytes, "a \(precision) buffer read as \(T.self)")
        return raw.assumingMemoryBound(to: T.self)
    }

    /// The values of a float32 buffer (tests look inside buffers through this).
    public var pointer: UnsafeMutablePointer<Float> { values(Float.self) }

    subscript(range: Range<Int>) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer + range.lowerBound, count: range.count)
    }
}

/// The Backend on OpenBLAS: GEMMs through cblas_sgemm (cblas_dgemm in float64), the named kernels
/// as plain loops (they are the reference every other backend is checked against), l×l work
/// through LAPACKE. `precision: .double` computes every pass in float64 behind the same float32
/// interface: far, tight components and high signal-to-noise ratios keep their digits.
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

    public let precision: CPUPrecision
    public var keepsDoubles: Bool { precision == .double }

    public init(precision: CPUPrecision = .single) {
        self.precision = precision
        openblas_set_num_threads(1)
    }

    public var name: String {
        "cpu (OpenBLAS, \(threads) thread\(threads == 1 ? "" : "s")\(precision == .double ? ", float64" : ""))"
    }

    public func makeBuffer(count: Int) throws -> CPUBuffer {
        guard count >= 0 else { throw MFAError.invalidArgument("negative buffer size \(count)") }
        return CPUBuffer(count: count, precision: precision)
    }

    public func write(_ values: UnsafeBufferPointer<Float>, to buffer: CPUBuffer, offset: Int) throws {
        try checkRange(buffer, offset, values.count)
        guard let base = values.baseAddress else { return }
        switch precision {
        case .single: (buffer.values(Float.self) + offset).update(from: base, count: values.count)
        case .double: for p in 0..<values.count { buffer.values(Double.self)[offset + p] = Double(base[p]) }
        }
    }

    public func read(_ buffer: CPUBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws {
        try checkRange(buffer, offset, values.count)
        guard let base = values.baseAddress else { return }
        switch precision {
        case .single: base.update(from: buffer.values(Float.self) + offset, count: values.count)
        case .double: for p in 0..<values.count { base[p] = Float(buffer.values(Double.self)[offset + p]) }
        }
    }

    public func writeDoubles(_ values: UnsafeBufferPointer<Double>, to buffer: CPUBuffer, offset: Int) throws {
        try checkRange(buffer, offset, values.count)
        guard let base = values.baseAddress else { return }
        switch precision {
        case .single: for p in 0..<values.count { buffer.values(Float.self)[offset + p] = Float(base[p]) }
        case .double: (buffer.values(Double.self) + offset).update(from: base, count: values.count)
        }
    }

    /// Exact in float64: EM's sums and the log-densities keep the digits the passes computed.
    public func readDoubles(_ buffer: CPUBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Double>) throws {
        try checkRange(buffer, offset, values.count)
        guard let base = values.baseAddress else { return }
        switch precision {
        case .single: for p in 0..<values.count { base[p] = Double(buffer.values(Float.self)[offset + p]) }
        case .double: base.update(from: buffer.values(Double.self) + offset, count: values.count)
        }
    }

    private func checkRange(_ buffer: CPUBuffer, _ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset + count <= buffer.count else {
            throw MFAError.invalidArgument("range \(offset)..<\(offset + count) outside a buffer of \(buffer.count)")
        }
    }

    /// Splits C into one block of rows (or of columns, when C is wider than tall) per core; each
    /// block is an independent single-threaded GEMM.
    public func gemm(_ p: MatrixProduct, a: CPUBuffer, b: CPUBuffer, c: CPUBuffer) throws {
        switch precision {
        case .single: try gemm(p, a.values(Float.self), b.values(Float.self), c.values(Float.self))
        case .double: try gemm(p, a.values(Double.self), b.values(Double.self), c.values(Double.self))
        }
    }

    private func gemm<T: CPUScalar>(_ p: MatrixProduct, _ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>,
                                    _ c: UnsafeMutablePointer<T>) throws {
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
            T.gemm(transposeA: block.transposeA, transposeB: block.transposeB, m: block.m, n: block.n, k: block.k,
                   alpha: T(block.alpha), a: a + block.aOffset, lda: block.lda, b: b + block.bOffset, ldb: block.ldb,
                   beta: T(block.beta), c: c + block.cOffset, ldc: block.ldc)
        }
    }
}
