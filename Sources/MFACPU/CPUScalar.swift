import CBLAS
#if arch(x86_64)
import CMathVector
#endif
import Foundation

/// The CPU backend's arithmetic: float32 (the default, like every other backend) or float64
/// (`CPUPrecision.double`: the range the float32 engine lacks, docs/DESIGN.md §1 "Range", at half
/// the speed). The kernels are written once, generic over this protocol, and specialised for both
/// (the optimiser sees every call site inside this module).
protocol CPUScalar: BinaryFloatingPoint, Sendable {
    static func exponential(_ x: Self) -> Self
    /// out[j] = exp(factor·x[j]) for j < count (out may be x), several lanes at a time; results
    /// below the smallest normal number are 0.
    static func exponentials(_ x: UnsafePointer<Self>, factor: Self, into out: UnsafeMutablePointer<Self>, count: Int)
    static func logarithm(_ x: Self) -> Self
    static func power(_ x: Self, _ y: Self) -> Self
    /// Single-threaded row-major GEMM on raw pointers (cblas_sgemm or cblas_dgemm).
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self,
                     c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension Float: CPUScalar {
    /// 0 below −104 without calling expf, whose underflow path (errno, `__math_uflowf`) took a tenth
    /// of the responsibilities' time: most of a row's K log-ratios are far below −104. The same value.
    static func exponential(_ x: Float) -> Float { x < -104 ? 0 : Foundation.exp(x) }
    /// By libmvec four at a time (libm's expf one at a time took 4 ns each, 1.6 million of them
    /// per step at K = 2000 in the projection and the component constants). Lanes whose result
    /// would be subnormal are set to 0 first: libmvec sends them down a scalar path.
    static func exponentials(_ x: UnsafePointer<Float>, factor: Float, into out: UnsafeMutablePointer<Float>, count: Int) {
        @inline(__always) func lanes(_ v: SIMD4<Float>) -> SIMD4<Float> {
            let tiny = v .< -87.3
            #if arch(x86_64)
            return _ZGVbN4v_expf(v.replacing(with: 0, where: tiny)).replacing(with: 0, where: tiny)
            #else
            return SIMD4(Foundation.exp(v[0]), Foundation.exp(v[1]), Foundation.exp(v[2]), Foundation.exp(v[3]))
                .replacing(with: 0, where: tiny)
            #endif
        }
        var j = 0
        while j + 4 <= count {
            let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD4<Float>.self) * factor
            UnsafeMutableRawPointer(out + j).storeBytes(of: lanes(v), as: SIMD4<Float>.self)
            j += 4
        }
        guard j < count else { return }
        var v = SIMD4<Float>(repeating: 0)
        for i in 0..<(count - j) { v[i] = x[j + i] * factor }
        let result = lanes(v)
        for i in 0..<(count - j) { out[j + i] = result[i] }
    }
    static func logarithm(_ x: Float) -> Float { Foundation.log(x) }
    static func power(_ x: Float, _ y: Float) -> Float { Foundation.pow(x, y) }
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                     lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c, blasInt(ldc))
    }
}

extension Double: CPUScalar {
    static func exponential(_ x: Double) -> Double { x < -746 ? 0 : Foundation.exp(x) }  // as Float's
    static func exponentials(_ x: UnsafePointer<Double>, factor: Double, into out: UnsafeMutablePointer<Double>, count: Int) {
        for j in 0..<count { out[j] = exponential(factor * x[j]) }
    }
    static func logarithm(_ x: Double) -> Double { Foundation.log(x) }
    static func power(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>,
                     lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c, blasInt(ldc))
    }
}

@inline(__always) func blasInt(_ value: Int) -> blasint { blasint(value) }

/// The CPU backend's arithmetic precision.
public enum CPUPrecision: String, Sendable, CaseIterable {
    case single, double

    var bytes: Int { self == .single ? 4 : 8 }
}
