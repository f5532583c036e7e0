import CLAPACKE

/// Dense float64 routines for the small l×l matrices of each component (LAPACKE).
public enum SmallLinearAlgebra {
    /// Eigendecomposition of a symmetric n×n row-major matrix: ascending eigenvalues and the
    /// eigenvectors as the columns of a row-major n×n matrix (so `A = O diag(λ) Oᵀ`).
    public static func symmetricEigen(_ matrix: [Double], order n: Int) throws -> (values: [Double], vectors: [Double]) {
        precondition(matrix.count == n * n)
        if n == 0 { return ([], []) }
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        let info = a.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")),
                               lapack_int_t(n), ap.baseAddress, lapack_int_t(n), wp.baseAddress)
            }
        }
        guard info == 0 else {
            throw MFAError.numerical("symmetric eigendecomposition failed (LAPACKE_dsyevd info \(info))")
        }
        return (w, a)
    }

    /// Lower Cholesky factor of a symmetric positive-definite n×n row-major matrix, or nil if it
    /// is not positive definite.
    public static func cholesky(_ matrix: [Double], order n: Int) -> [Double]? {
        if n == 0 { return [] }
        var a = matrix
        let info = a.withUnsafeMutableBufferPointer { ap in
            LAPACKE_dpotrf(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), lapack_int_t(n), ap.baseAddress, lapack_int_t(n))
        }
        guard info == 0 else { return nil }
        for i in 0..<n { for j in (i + 1)..<n { a[i * n + j] = 0 } }
        return a
    }

    /// y ← L⁻¹ y for a lower-triangular n×n row-major L (forward substitution).
    public static func solveLower(_ lower: [Double], _ y: inout [Double], order n: Int) {
        for p in 0..<n {
            for q in 0..<p { y[p] -= lower[p * n + q] * y[q] }
            y[p] /= lower[p * n + p]
        }
    }

    /// y ← L⁻ᵀ y for a lower-triangular n×n row-major L (back substitution).
    public static func solveLowerTransposed(_ lower: [Double], _ y: inout [Double], order n: Int) {
        for p in stride(from: n - 1, through: 0, by: -1) {
            for q in (p + 1)..<n { y[p] -= lower[q * n + p] * y[q] }
            y[p] /= lower[p * n + p]
        }
    }
}

/// Row-major float64 products of the small per-path matrices.
extension SmallLinearAlgebra {
    /// (m×k)·(k×n).
    static func product(_ a: some Collection<Double>, _ b: some Collection<Double>, _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        let a = Array(a), b = Array(b)
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k where a[i * k + p] != 0 {
                let x = a[i * k + p]
                for j in 0..<n { c[i * n + j] += x * b[p * n + j] }
            }
        }
        return c
    }

    static func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
        (0..<(m * n)).map { a[($0 % m) * n + $0 / m] }
    }

    static func identity(_ n: Int) -> [Double] {
        (0..<(n * n)).map { $0 / n == $0 % n ? 1 : 0 }
    }
}

extension SmallLinearAlgebra {
    /// X = A⁻¹ B for a symmetric positive-definite n×n A and an n×m B (row-major), by Cholesky.
    /// A matrix that round-off left slightly indefinite is projected onto the definite ones: its
    /// eigenvalues raised to at least 10⁻¹²·tr(A)/n; the second result says whether that was
    /// needed. nil only for non-finite entries.
    static func solvePositiveDefinite(_ a: [Double], _ b: [Double], order n: Int, columns m: Int) -> (solution: [Double], regularised: Bool)? {
        guard a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite) else { return nil }
        if let lower = cholesky(a, order: n) {
            var x = [Double](repeating: 0, count: n * m)
            for column in 0..<m {
                var y = (0..<n).map { b[$0 * m + column] }
                solveLower(lower, &y, order: n)
                solveLowerTransposed(lower, &y, order: n)
                for i in 0..<n { x[i * m + column] = y[i] }
            }
            return (x, false)
        }
        let scale = max((0..<n).reduce(0.0) { $0 + abs(a[$1 * n + $1]) } / Double(max(n, 1)), .leastNormalMagnitude)
        guard let (values, vectors) = try? symmetricEigen(a, order: n) else { return nil }
        let inverse = values.map { 1 / max($0, 1e-12 * scale) }
        // x = V diag(1/λ) Vᵀ b
        var x = [Double](repeating: 0, count: n * m)
        for column in 0..<m {
            for p in 0..<n {
                var projected = 0.0
                for q in 0..<n { projected += vectors[q * n + p] * b[q * m + column] }
                projected *= inverse[p]
                for q in 0..<n { x[q * m + column] += vectors[q * n + p] * projected }
            }
        }
        return (x, true)
    }
}
