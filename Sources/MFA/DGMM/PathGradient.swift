import Foundation

/// Turns the engine's gradient of one path, taken in the precision form (θ: log e, Γ), into the
/// gradient with respect to that path's covariance form Σ = Λ_0 S_1 Λ_0ᵀ + Ψ_0 (DESIGN.md §3).
///
/// With F a function of P = E − ΓΓᵀ and G_P = ∂F/∂P, the engine gives diag(G_P) = ∂F/∂e and
/// Q = G_P Γ = −½ ∂F/∂Γ. Since P = Σ⁻¹, G_Σ = −P G_P P, and P Λ_0 lies in the span of Γ:
/// P Λ_0 = Γ Y with Y = (ΓᵀΨΓ)⁺ΓᵀΛ_0 − ΓᵀΛ_0. So, with no d×d matrix:
///
///     ∂F/∂Λ_0 = 2 G_Σ Λ_0 S_1 = −2 (P Q) Y S_1,   ∂F/∂S_1 = Λ_0ᵀ G_Σ Λ_0 = −Yᵀ(ΓᵀQ)Y,
///     ∂F/∂ψ_j = −(P G_P P)_jj = −(e_j² G_jj − 2 e_j Γ_j·Q_j + Γ_j (ΓᵀQ) Γ_jᵀ).
///
/// Y is read from the Γ the engine holds, so whatever rotation its projection applied is accounted for.
struct PathGradient {
    /// ∂F/∂log ψ_0, [d].
    var logNoise: [Double]
    /// The part of ∂F/∂Λ_0 that comes through Σ, [d, r].
    var loading: [Double]
    /// ∂F/∂S_1, [r, r].
    var inner: [Double]

    /// `logPrecision` and `loadingsT` are the path's log e [d] and Γᵀ [l, d] as θ holds them, the
    /// two gradients the same; `lambda` is Λ_0 [d, l] and `inner` S_1 [l, l] (l = r_0).
    init(logPrecision: ArraySlice<Float>, loadingsT: ArraySlice<Float>, logPrecisionGradient: ArraySlice<Float>,
         loadingsTGradient: ArraySlice<Float>, lambda: [Double], inner: [Double], dimension d: Int, latent l: Int) throws {
        let e = logPrecision.map { Foundation.exp(Double($0)) }
        let ga = Array(logPrecisionGradient), gt = Array(loadingsTGradient), gammaT = Array(loadingsT)
        var gamma = [Double](repeating: 0, count: d * l), q = gamma
        for b in 0..<l {
            for j in 0..<d {
                gamma[j * l + b] = Double(gammaT[b * d + j])
                q[j * l + b] = -0.5 * Double(gt[b * d + j])
            }
        }
        let gammaTransposed = SmallLinearAlgebra.transpose(gamma, d, l)
        // W = ΓᵀQ = ΓᵀG_PΓ, symmetric in exact arithmetic.
        var w = SmallLinearAlgebra.product(gammaTransposed, q, l, d, l)
        for a in 0..<l { for b in 0..<a { let m = 0.5 * (w[a * l + b] + w[b * l + a]); (w[a * l + b], w[b * l + a]) = (m, m) } }
        var gram = [Double](repeating: 0, count: l * l)
        for j in 0..<d { for a in 0..<l { for b in 0..<l { gram[a * l + b] += gamma[j * l + a] * gamma[j * l + b] / e[j] } } }
        let projected = SmallLinearAlgebra.product(gammaTransposed, lambda, l, d, l)
        var y = SmallLinearAlgebra.product(try Self.pseudoInverse(gram, l), projected, l, l, l)
        for p in y.indices { y[p] -= projected[p] }
        // P Q = E Q − Γ(ΓᵀQ)
        var pq = SmallLinearAlgebra.product(gamma, w, d, l, l)
        for j in 0..<d { for b in 0..<l { pq[j * l + b] = e[j] * q[j * l + b] - pq[j * l + b] } }
        loading = SmallLinearAlgebra.product(SmallLinearAlgebra.product(pq, y, d, l, l), inner, d, l, l).map { -2 * $0 }
        self.inner = SmallLinearAlgebra.product(SmallLinearAlgebra.product(SmallLinearAlgebra.transpose(y, l, l), w, l, l, l), y, l, l, l).map { -$0 }
        logNoise = (0..<d).map { j in
            let gjj = Double(ga[j]) / e[j]
            var cross = 0.0, quadratic = 0.0
            for a in 0..<l {
                cross += gamma[j * l + a] * q[j * l + a]
                for b in 0..<l { quadratic += gamma[j * l + a] * w[a * l + b] * gamma[j * l + b] }
            }
            return -(e[j] * e[j] * gjj - 2 * e[j] * cross + quadratic) / e[j]
        }
    }

    /// The Moore–Penrose inverse of a symmetric positive semi-definite l×l matrix: directions of
    /// Γ that vanish (a rank-deficient Λ_0) carry no gradient.
    static func pseudoInverse(_ matrix: [Double], _ l: Int) throws -> [Double] {
        let (values, vectors) = try SmallLinearAlgebra.symmetricEigen(matrix, order: l)
        let cutoff = (values.last ?? 0) * 1e-12
        var out = [Double](repeating: 0, count: l * l)
        for (k, value) in values.enumerated() where value > cutoff {
            for a in 0..<l { for b in 0..<l { out[a * l + b] += vectors[a * l + k] * vectors[b * l + k] / value } }
        }
        return out
    }
}
