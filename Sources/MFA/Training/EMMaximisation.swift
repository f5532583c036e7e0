import Foundation

/// The EM M-step for MFA from one pass's sums (`EMStatistics`), as an ECM step, so the
/// log-likelihood never decreases: π and μ first (their exact maximisers), then one
/// factor-analysis EM update of Λ and Ψ around the new means.
struct EMMaximisation {
    let shape: MixtureShape
    /// The engine's origin: the statistics are sums of x − origin.
    let origin: [Double]
    let minVariance: Double
    let noise: NoiseStructure

    /// The M-step. In the canonical basis (M_k = diag(λ)), Λ = E⁻¹Γ diag(λ)^{-1/2}, the posterior
    /// mean of the latent is E[z|x] = D u with D = diag(√λ), u = Γᵀ(x − μ), and I − βΛ = diag(λ):
    ///
    ///     μ' = s1/N,  S = (1/N) Σ r (x − μ')(x − μ')ᵀ (never formed),
    ///     Sβᵀ = (1/N) Σ r (x − μ') uᵀ D,   βSβᵀ = (1/N) D (Σ r u uᵀ) D,
    ///     Λ' = Sβᵀ (βSβᵀ + diag(λ))⁻¹,     ψ' = diag(S) − rowsum(Λ' ∘ Sβᵀ)  (floored at σ²_min)
    ///
    /// where u is centred on μ' by shifting the accumulated sums by g = Γᵀ(μ' − μ).
    func maximise(_ stats: EMStatistics, current model: MixtureModel, canonical: PrecisionParameters,
                  eigenvalues: [Float]) throws -> MixtureModel {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let kl = k * l
        let total = (0..<k).reduce(0.0) { $0 + stats.totals[kl + $1] }
        var next = model
        var unflooredNoise = model.noiseVariances.map(Double.init)  // ψ before the floor, to tie
        for c in 0..<k {
            let n = stats.totals[kl + c]
            guard n > 1e-10 * total else { continue }  // an empty component keeps its parameters (not its weight)
            // Fewer than l + 1 rows determine no l factors (the loadings would blow up): keep them.
            guard n >= Double(l + 1) else { continue }
            let s1 = (0..<d).map { stats.cross[(kl + c) * d + $0] }
            let mu = s1.map { $0 / n }  // centred coordinates
            let shift = (0..<d).map { mu[$0] - (Double(canonical.means[c * d + $0]) - origin[$0]) }
            for j in 0..<d { next.means[c * d + j] = Float(mu[j] + origin[j]) }
            let diagonalS = (0..<d).map { stats.squares[c * d + $0] / n - mu[$0] * mu[$0] }
            guard l > 0 else {
                for j in 0..<d { unflooredNoise[c * d + j] = diagonalS[j] }
                continue
            }
            let (loadings, explained) = try factorUpdate(c, stats, n: n, s1: s1, mu: mu, shift: shift, canonical: canonical,
                                                         eigenvalues: eigenvalues)
            for p in 0..<(d * l) { next.loadings[c * d * l + p] = Float(loadings[p]) }
            for j in 0..<d { unflooredNoise[c * d + j] = diagonalS[j] - explained[j] }
        }
        // Tied noise: the constrained maximisers are the mean over d (isotropic) and the N_k-weighted
        // mean over components (shared); then the floor.
        noise.tie(&unflooredNoise, shape: shape, weights: (0..<k).map { stats.totals[kl + $0] })
        next.noiseVariances = unflooredNoise.map { Float(max($0, minVariance)) }
        next.weights = Self.mixingWeights((0..<k).map { stats.totals[kl + $0] })
        return try MixtureModel(shape: next.shape, weights: next.weights, means: next.means, loadings: next.loadings,
                                noiseVariances: next.noiseVariances)
    }

    /// π_k = N_k / Σ N, each N_k at least 10⁻¹⁰ of the total: an empty component keeps a weight
    /// that a log can take, and the weights still sum to 1 (an empty component's old weight, kept
    /// beside the others' new ones, made them sum to 1.26 on data with three far rows).
    static func mixingWeights(_ counts: [Double]) -> [Float] {
        let total = counts.reduce(0, +)
        let kept = counts.map { max($0, 1e-10 * total) }
        let keptTotal = kept.reduce(0, +)
        return kept.map { Float($0 / keptTotal) }
    }

    /// Component c's new loadings Λ' = Sβᵀ (βSβᵀ + diag(λ))⁻¹ [d, l], and rowsum(Λ' ∘ Sβᵀ) [d],
    /// the variance they explain, from the sums re-centred on the new mean.
    private func factorUpdate(_ c: Int, _ stats: EMStatistics, n: Double, s1: [Double], mu: [Double], shift: [Double],
                              canonical: PrecisionParameters, eigenvalues: [Float]) throws -> (loadings: [Double], explained: [Double]) {
        let (d, l) = (shape.dimension, shape.latent)
        let gamma = { (j: Int, i: Int) in Double(canonical.precisionLoadings[(c * d + j) * l + i]) }
        let g = (0..<l).map { i in (0..<d).reduce(0.0) { $0 + gamma($1, i) * shift[$1] } }
        let t = (0..<l).map { stats.totals[c * l + $0] }
        let root = (0..<l).map { Double(eigenvalues[c * l + $0]).squareRoot() }
        // Sβᵀ [d, l]
        var sb = [Double](repeating: 0, count: d * l)
        for j in 0..<d {
            for i in 0..<l {
                let sum = stats.cross[(c * l + i) * d + j] - s1[j] * g[i] - mu[j] * (t[i] - n * g[i])
                sb[j * l + i] = sum * root[i] / n
            }
        }
        // βSβᵀ + diag(λ) [l, l]
        var a = [Double](repeating: 0, count: l * l)
        for p in 0..<l {
            for q in 0..<l {
                let uu = stats.secondMoments[(c * l + p) * l + q] - t[p] * g[q] - g[p] * t[q] + n * g[p] * g[q]
                a[p * l + q] = root[p] * uu * root[q] / n + (p == q ? root[p] * root[p] : 0)
            }
        }
        // A moment matrix that round-off left slightly indefinite gets the smallest ridge that helps.
        guard let (solution, _) = SmallLinearAlgebra.solvePositiveDefinite(a, SmallLinearAlgebra.transpose(sb, d, l), order: l, columns: d) else {
            throw MFAError.numerical("EM M-step: component \(c)'s latent moment matrix is not positive definite")
        }
        var loadings = [Double](repeating: 0, count: d * l), explained = [Double](repeating: 0, count: d)
        for j in 0..<d {
            // Λ'_j = (Sβᵀ)_j A⁻¹
            for i in 0..<l {
                loadings[j * l + i] = solution[i * d + j]
                explained[j] += solution[i * d + j] * sb[j * l + i]
            }
        }
        return (loadings, explained)
    }
}
