import Foundation

/// The eigensolver of the M_k projection, shared line for line by the CPU backend and the OpenCL
/// kernel `project_components` (Kernels/mfa.cl), so that both backends rotate Γ the same way:
/// cyclic Jacobi, eigenvalues ascending, each eigenvector's largest entry positive (the first
/// such entry on ties). The projection leaves M_k diagonal, so after one SGD step M_k is nearly
/// diagonal and a sweep or two converge: cheaper than a tridiagonalising solver at l ≤ 64, and
/// the rotations stay near the identity (a warm start, with no reordering of Γ's columns).
public enum SymmetricJacobi {
    /// Sweeps at most; a matrix that has not converged by then (only a non-finite one, in
    /// practice) keeps what it has.
    public static let maximumSweeps = 32

    /// Diagonalises the symmetric n×n row-major `matrix` in place and returns the eigenvectors as
    /// the columns of a row-major n×n matrix (matrix ≈ V diag(λ) Vᵀ, λ = the diagonal left).
    /// Converged when Σ_{p<q} a_pq² ≤ tolerance²·Σ_p a_pp²; a non-finite entry stops at once with
    /// NaN on the diagonal.
    public static func diagonalise(_ matrix: inout [Double], order n: Int, tolerance: Double = 1e-14) -> [Double] {
        var vectors = [Double](repeating: 0, count: n * n)
        matrix.withUnsafeMutableBufferPointer { a in
            vectors.withUnsafeMutableBufferPointer { v in diagonalise(a.baseAddress!, v.baseAddress!, n, tolerance) }
        }
        return vectors
    }

    /// The sweeps on raw storage (no bounds checks: this runs for every component at every step).
    private static func diagonalise(_ a: UnsafeMutablePointer<Double>, _ v: UnsafeMutablePointer<Double>, _ n: Int,
                                    _ tolerance: Double) {
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<maximumSweeps {
            var off = 0.0, diagonal = 0.0
            for p in 0..<n {
                diagonal += a[p * n + p] * a[p * n + p]
                for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] }
            }
            guard (off + diagonal).isFinite else {
                for p in 0..<n { a[p * n + p] = .nan }  // a non-finite entry anywhere: no eigenvalue is meaningful
                return
            }
            guard off > tolerance * tolerance * diagonal else { return }
            for p in 0..<max(n - 1, 0) {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    guard apq != 0 else { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    // t = tan of the rotation angle, the smaller root; 1/(2θ) where θ² would overflow.
                    let t = abs(theta) > 1e150 ? 1 / (2 * theta)
                        : (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
    }

    /// Eigenvalues ascending and eigenvectors (columns of a row-major n×n matrix), each with its
    /// largest entry positive.
    public static func eigen(_ matrix: [Double], order n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = diagonalise(&a, order: n)
        var values = (0..<n).map { a[$0 * n + $0] }
        // Selection sort: swap whole columns, as the kernel does.
        for i in 0..<n {
            var smallest = i
            for j in (i + 1)..<n where values[j] < values[smallest] { smallest = j }
            if smallest != i {
                values.swapAt(i, smallest)
                for r in 0..<n { v.swapAt(r * n + i, r * n + smallest) }
            }
        }
        for i in 0..<n {
            var largest = 0
            for r in 1..<n where abs(v[r * n + i]) > abs(v[largest * n + i]) { largest = r }
            if v[largest * n + i] < 0 { for r in 0..<n { v[r * n + i] = -v[r * n + i] } }
        }
        return (values, v)
    }
}
