import CBLAS
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
public final class CPUBackend: Backend, @unchecked Sendable {
    public typealias Buffer = CPUBuffer

    public init() {}

    public var name: String { "cpu (OpenBLAS, \(openblasThreads) threads)" }

    var openblasThreads: Int { Int(openblas_get_num_threads()) }

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

    public func gemm(_ p: MatrixProduct, a: CPUBuffer, b: CPUBuffer, c: CPUBuffer) throws {
        guard p.m > 0, p.n > 0 else { return }
        cblas_sgemm(CblasRowMajor, p.transposeA ? CblasTrans : CblasNoTrans, p.transposeB ? CblasTrans : CblasNoTrans,
                    blasInt(p.m), blasInt(p.n), blasInt(p.k), p.alpha, a.pointer + p.aOffset, blasInt(p.lda),
                    b.pointer + p.bOffset, blasInt(p.ldb), p.beta, c.pointer + p.cOffset, blasInt(p.ldc))
    }
}

@inline(__always) func blasInt(_ value: Int) -> blasint { blasint(value) }
