import CBLAS
/// Exact conversions between the covariance and precision forms (DESIGN.md §1), l×l work per
/// component, in float64.
extension MixtureModel {
    /// covariance → precision: E = Ψ⁻¹, L = I + ΛᵀΨ⁻¹Λ = V diag(s) Vᵀ, Γ = Ψ⁻¹ Λ V diag(s)^{-1/2}.
    /// That square root of L⁻¹ makes M = diag(1/s): the precision loadings come out canonical.
    public func precisionParameters() throws -> PrecisionParameters {
        let exact = try canonicalPrecision()
        return PrecisionParameters(shape: shape, weights: weights, means: means, precisionDiagonal: exact.diagonal.map(Float.init),
                                   precisionLoadings: exact.gamma.map(Float.init))
    }

    /// The precision form in float64, with M_k's eigenvalues λ = 1/s computed from L, not from Γ:
    /// I − ΓᵀE⁻¹Γ would lose λ ≪ 1 (signal-to-noise ratios beyond ~10⁶) to cancellation.
    public func canonicalPrecision() throws -> (diagonal: [Double], gamma: [Double], eigenvalues: [Double]) {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        var diagonal = [Double](repeating: 0, count: k * d)
        var gamma = [Double](repeating: 0, count: k * d * l)
        var eigenvalues = [Double](repeating: 1, count: k * l)
        // Components on every core (online EM does this after every M-step); each writes its own rows.
        try diagonal.withUnsafeMutableBufferPointer { diagonal in
            try gamma.withUnsafeMutableBufferPointer { gamma in
                try eigenvalues.withUnsafeMutableBufferPointer { eigenvalues in
                    let (diagonal, gamma, eigenvalues) = (diagonal, gamma, eigenvalues)
                    _ = try concurrentMap(k) { c in
                        let psiInverse = (0..<d).map { 1 / Double(noiseVariances[c * d + $0]) }
                        for j in 0..<d { diagonal[c * d + j] = psiInverse[j] }
                        guard l > 0 else { return }
                        let lambda = (0..<(d * l)).map { Double(loadings[c * d * l + $0]) }
                        let (s, v) = try latentPrecision(c)
                        for b in 0..<l { eigenvalues[c * l + b] = 1 / s[b] }
                        for j in 0..<d {
                            for b in 0..<l {
                                var sum = 0.0
                                for a in 0..<l { sum += lambda[j * l + a] * v[a * l + b] }
                                gamma[(c * d + j) * l + b] = psiInverse[j] * sum / s[b].squareRoot()
                            }
                        }
                    }
                }
            }
        }
        return (diagonal, gamma, eigenvalues)
    }

    /// Component c's L = I + ΛᵀΨ⁻¹Λ (the posterior precision of z) as V diag(s) Vᵀ, row-major,
    /// with s ≥ 1: every eigenvalue of L is at least 1, and with entries near 10³⁰ (a noise variance
    /// at a floor of 10⁻¹²) round-off can put the smallest anywhere below that, even < 0.
    public func latentPrecision(_ c: Int) throws -> (values: [Double], vectors: [Double]) {
        let (d, l) = (shape.dimension, shape.latent)
        // ΛᵀΨ⁻¹Λ as one DSYRK of Ψ^(−½)Λ (it runs for every component at every online-EM step).
        var scaled = [Double](repeating: 0, count: d * l)
        for j in 0..<d {
            let root = (1 / Double(noiseVariances[c * d + j])).squareRoot(), row = (c * d + j) * l
            for a in 0..<l { scaled[j * l + a] = Double(loadings[row + a]) * root }
        }
        var inner = SmallLinearAlgebra.identity(l)
        if l > 0 {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(l), blasint(d), 1, scaled, blasint(l), 1, &inner, blasint(l))
        }
        let (values, vectors) = try SmallLinearAlgebra.symmetricEigen(inner, order: l)  // reads the upper half
        return (values.map { max($0, 1) }, vectors)
    }
}

extension PrecisionParameters {
    /// precision → covariance: Ψ = E⁻¹, M = V diag(λ) Vᵀ, Λ = E⁻¹ Γ V diag(λ)^{-1/2}.
    /// Throws if some M_k is not positive definite (then P_k is not a precision matrix).
    public func covarianceModel() throws -> MixtureModel {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        var noise = [Float](repeating: 0, count: k * d)
        var loadings = [Float](repeating: 0, count: k * d * l)
        for c in 0..<k {
            let e = (0..<d).map { Double(precisionDiagonal[c * d + $0]) }
            for j in 0..<d { noise[c * d + j] = Float(1 / e[j]) }
            guard l > 0 else { continue }
            let gamma = (0..<(d * l)).map { Double(precisionLoadings[c * d * l + $0]) }
            let m = Self.innerMatrix(gamma: gamma, diagonal: e, latent: l)
            let (lambda, v) = try SmallLinearAlgebra.symmetricEigen(m, order: l)
            guard let smallest = lambda.first, smallest > 0 else {
                throw MFAError.numerical("component \(c): M = I − ΓᵀE⁻¹Γ is not positive definite")
            }
            for j in 0..<d {
                for b in 0..<l {
                    var sum = 0.0
                    for a in 0..<l { sum += gamma[j * l + a] * v[a * l + b] }
                    loadings[(c * d + j) * l + b] = Float(sum / e[j] / lambda[b].squareRoot())
                }
            }
        }
        return try MixtureModel(shape: shape, weights: weights, means: means, loadings: loadings, noiseVariances: noise)
    }

    /// M = I − Γᵀ E⁻¹ Γ for one component (Γ row-major d×l), row-major l×l.
    public static func innerMatrix(gamma: [Double], diagonal e: [Double], latent l: Int) -> [Double] {
        var m = [Double](repeating: 0, count: l * l)
        for i in 0..<l { m[i * l + i] = 1 }
        for j in 0..<e.count {
            let w = 1 / e[j]
            for a in 0..<l { for b in 0..<l { m[a * l + b] -= gamma[j * l + a] * w * gamma[j * l + b] } }
        }
        return m
    }
}
