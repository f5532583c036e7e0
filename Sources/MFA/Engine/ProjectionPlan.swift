/// The host side of the M_k projection (DESIGN.md §1), shared by the backends: from M_k, the
/// l×l matrix R_k = O diag(s) that every backend applies as Γ_k ← Γ_k R_k (first moment the same,
/// second moment by R_k∘R_k), and the eigenvalues of M_k afterwards.
public struct ProjectionPlan {
    /// R = O diag(s), row-major l×l: O the eigenvectors of M, s_i = √((1−τ)/(1−λ_i)) where λ_i < τ, else 1.
    public var exactRotation: [Double]
    /// λ after clipping (each ≥ τ).
    public var exactEigenvalues: [Double]
    /// The same in float32, for float32 backends.
    public var rotation: [Float] { exactRotation.map(Float.init) }
    public var eigenvalues: [Float] { exactEigenvalues.map(Float.init) }
    public var clipped: Int

    /// `inner` is M_k (row-major l×l, float64). With τ = 0 nothing is clipped and λ_i ≤ 0 throws.
    public init(inner: [Double], latent l: Int, eigenvalueFloor tau: Double, component: Int) throws {
        guard inner.allSatisfy(\.isFinite) else {
            throw MFAError.numerical("component \(component): M = I − ΓᵀE⁻¹Γ has non-finite entries")
        }
        var (lambda, vectors) = try SmallLinearAlgebra.symmetricEigen(inner, order: l)
        // An eigenvector's sign is arbitrary; fix it (largest entry positive) so that backends whose
        // M_k differ in the last bits rotate Γ the same way.
        for i in 0..<l {
            let largest = (0..<l).max { abs(vectors[$0 * l + i]) < abs(vectors[$1 * l + i]) }!
            if vectors[largest * l + i] < 0 { for r in 0..<l { vectors[r * l + i] = -vectors[r * l + i] } }
        }
        var factors = [Double](repeating: 1, count: l)
        clipped = 0
        for i in 0..<l where lambda[i] < tau || lambda[i] <= 0 {
            guard tau > 0 else {
                throw MFAError.numerical("component \(component): M = I − ΓᵀE⁻¹Γ is not positive definite (eigenvalue \(lambda[i]))")
            }
            factors[i] = ((1 - tau) / (1 - lambda[i])).squareRoot()
            lambda[i] = tau
            clipped += 1
        }
        exactRotation = (0..<(l * l)).map { vectors[$0] * factors[$0 % l] }
        exactEigenvalues = lambda
    }
}
