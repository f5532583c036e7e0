/// The l×l part of the M_k projection (DESIGN.md §1), as the CPU backend runs it and the OpenCL
/// kernel `project_components` mirrors it: from M_k, the rotation R_k = O diag(s) that every
/// backend applies as Γ_k ← Γ_k R_k (first moment the same, second moment by R_k∘R_k), and the
/// eigenvalues of M_k afterwards. The eigensolver is `SymmetricJacobi`, shared by the backends.
public struct ProjectionPlan {
    /// R = O diag(s), row-major l×l: O the eigenvectors of M, s_i = √((1−τ)/(1−λ_i)) where λ_i < τ, else 1.
    public var exactRotation: [Double]
    /// λ after clipping (each ≥ τ).
    public var exactEigenvalues: [Double]
    public var clipped: Int
    /// False when M_k had a non-finite entry, or (with τ = 0, nothing clipped) an eigenvalue ≤ 0:
    /// then Γ_k is left as it is and the backend marks the component (`ComponentLayout.clipped`).
    public var valid: Bool

    /// `inner` is M_k (row-major l×l, float64).
    public init(inner: [Double], latent l: Int, eigenvalueFloor tau: Double) {
        var (lambda, vectors) = SymmetricJacobi.eigen(inner, order: l)
        valid = lambda.allSatisfy(\.isFinite) && vectors.allSatisfy(\.isFinite)
        var factors = [Double](repeating: 1, count: l)
        clipped = 0
        for i in 0..<l where lambda[i] < tau || lambda[i] <= 0 {
            if tau <= 0 { valid = false }
            factors[i] = ((1 - tau) / (1 - lambda[i])).squareRoot()
            lambda[i] = tau
            clipped += 1
        }
        exactRotation = (0..<(l * l)).map { vectors[$0] * factors[$0 % l] }
        exactEigenvalues = lambda
    }
}
