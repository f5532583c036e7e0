import CBLAS
import Foundation

/// The CPU backend's arithmetic: float32 (the default, like every other backend) or float64
/// (`CPUPrecision.double`: the range the float32 engine lacks, docs/DESIGN.md §1 "Range", at half
/// the speed). The kernels are written once, generic over this protocol, and specialised for both
/// (the optimiser sees every call site inside this module).
protocol CPUScalar: BinaryFloatingPoint, Sendable {
    static func exponential(_ x: Self) -> Self
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
