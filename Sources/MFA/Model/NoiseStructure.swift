/// How the diagonal noise Ψ_k of the components is constrained.
public enum NoiseStructure: String, Sendable, CaseIterable {
    /// Ψ_k = diag(ψ_k): one variance per component and coordinate (the default).
    case diagonal
    /// Ψ_k = σ_k² I: one variance per component (mixture of probabilistic PCA).
    case isotropic
    /// Ψ_k = Ψ: one diagonal shared by all components.
    case shared

    /// Free noise parameters of a mixture of this shape.
    public func parameterCount(_ shape: MixtureShape) -> Int {
        switch self {
        case .diagonal: return shape.components * shape.dimension
        case .isotropic: return shape.components
        case .shared: return shape.dimension
        }
    }

    /// Replaces `values` [K, d] (variances, or log-precisions for SGD) by their constrained
    /// counterparts: the mean over d (isotropic) or the `weights`-weighted mean over k (shared).
    public func tie(_ values: inout [Double], shape: MixtureShape, weights: [Double]? = nil) {
        let (k, d) = (shape.components, shape.dimension)
        switch self {
        case .diagonal:
            return
        case .isotropic:
            for c in 0..<k {
                let mean = (0..<d).reduce(0.0) { $0 + values[c * d + $1] } / Double(d)
                for j in 0..<d { values[c * d + j] = mean }
            }
        case .shared:
            let w = weights ?? [Double](repeating: 1, count: k)
            let total = w.reduce(0, +)
            for j in 0..<d {
                let mean = (0..<k).reduce(0.0) { $0 + w[$1] * values[$1 * d + j] } / total
                for c in 0..<k { values[c * d + j] = mean }
            }
        }
    }
}

extension MixtureShape {
    /// Free parameters of the covariance form: weights, means, noise, and loadings less their
    /// rotational freedom (d·l − l(l−1)/2 per component), for BIC and AIC.
    public func freeParameterCount(noise: NoiseStructure) -> Int {
        (components - 1) + components * dimension + noise.parameterCount(self)
            + components * (dimension * latent - latent * (latent - 1) / 2)
    }
}
