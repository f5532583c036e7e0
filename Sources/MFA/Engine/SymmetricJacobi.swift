import Foundation

/// The eigensolver of the M_k projection, shared step for step by the CPU backend and the OpenCL
/// kernel `project_components` (Kernels/mfa.cl), so that both backends rotate Γ the same way:
/// Jacobi in round-robin order, eigenvalues ascending, each eigenvector's largest entry positive
/// (the first such entry on ties). The projection leaves M_k diagonal, so after one SGD step M_k
/// is nearly diagonal and a sweep or two converge: cheaper than a tridiagonalising solver at
/// l ≤ 64, and the rotations stay near the identity (a warm start, with no reordering of Γ's
/// columns).
///
/// Round-robin order (Brent and Luk's parallel ordering): a sweep is n − 1 rounds (n rounded up
/// to even), each of n/2 disjoint pairs (p, q); every pair meets once a sweep, as in the cyclic
/// order, with the same convergence. Disjoint rotations touch disjoint rows and columns, so a
/// round applies all its rotations to the columns, then all to the rows: the GPU kernel does each
/// phase with one work-item per (pair, index) and a barrier between, instead of one work-item
/// doing all l³ updates in turn (1.3 ms per step at K = 50 on an H200, 79% of the SGD step).
public enum SymmetricJacobi {
    /// Sweeps at most; a matrix that has not converged by then (only a non-finite one, in
    /// practice) keeps what it has.
    public static let maximumSweeps = 32

    /// Pair `t` of round `round` of the round-robin schedule for order n: (p, q) with p < q, or
    /// nil for the bye of odd n. Index 2m−1 stays put and the others turn (the circle method).
    @inline(__always)
    public static func pair(_ t: Int, round: Int, order n: Int) -> (p: Int, q: Int)? {
        let even = n + (n & 1), turning = even - 1
        let x = t == 0 ? turning : (round + t) % turning
        let y = t == 0 ? round : (round - t + turning) % turning
        let (p, q) = (min(x, y), max(x, y))
        return q < n ? (p, q) : nil
    }

    /// The relative size below which an off-diagonal entry is left alone: |a_pq| ≤ tolerance·√|a_pp a_qq|
    /// (Demmel and Veselić's test, so small eigenvalues keep their relative accuracy). M_k comes
    /// from float32 Γ (7 digits); a rotation by less than 10⁻¹⁰ moves no float32 entry of Γ.
    public static let tolerance = 1e-10

    /// Diagonalises the symmetric n×n row-major `matrix` in place and returns the eigenvectors as
    /// the columns of a row-major n×n matrix (matrix ≈ V diag(λ) Vᵀ, λ = the diagonal left).
    /// Pairs within `tolerance` are not rotated, and a sweep that finds none outside it ends the
    /// solve: after one SGD step M_k is nearly diagonal and two sweeps do it where a test on the
    /// whole off-diagonal norm took three (the fused step 47.1 → 41.8 ms at K = 2000). A non-finite
    /// entry stops at once with NaN on the diagonal.
    public static func diagonalise(_ matrix: inout [Double], order n: Int, tolerance: Double = tolerance) -> [Double] {
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
        let pairs = (n + 1) / 2, rounds = max(n + (n & 1) - 1, 0)
        var rotations = [(p: Int, q: Int, c: Double, s: Double)]()
        rotations.reserveCapacity(pairs)
        let squaredTolerance = tolerance * tolerance
        // |a_pq| > tolerance·√|a_pp a_qq|, without the square root.
        func outside(_ p: Int, _ q: Int) -> Bool {
            let apq = a[p * n + q]
            return apq * apq > squaredTolerance * abs(a[p * n + p] * a[q * n + q])
        }
        for _ in 0..<maximumSweeps {
            var total = 0.0, rotate = false
            for p in 0..<n {
                total += abs(a[p * n + p])
                for q in (p + 1)..<n {
                    total += abs(a[p * n + q])
                    if outside(p, q) { rotate = true }
                }
            }
            guard total.isFinite else {
                for p in 0..<n { a[p * n + p] = .nan }  // a non-finite entry anywhere: no eigenvalue is meaningful
                return
            }
            guard rotate else { return }
            for round in 0..<rounds {
                // Each pair's angle from its 2×2 block, which the round's other rotations leave alone.
                rotations.removeAll(keepingCapacity: true)
                for t in 0..<pairs {
                    guard let (p, q) = pair(t, round: round, order: n) else { continue }
                    guard outside(p, q) else { continue }
                    let apq = a[p * n + q]
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    // t = tan of the rotation angle, the smaller root; 1/(2θ) where θ² would overflow.
                    let t = abs(theta) > 1e150 ? 1 / (2 * theta)
                        : (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    rotations.append((p, q, c, t * c))
                }
                for (p, q, c, s) in rotations {
                    for k in 0..<n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
                for (p, q, c, s) in rotations {
                    for k in 0..<n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
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
