extension MixtureModel {
    /// The model with each component's noise variances raised by one factor, where needed, so that
    /// no factor's signal-to-noise ratio (an eigenvalue of ΛᵀΨ⁻¹Λ) exceeds `maximum`. The precision
    /// form's M_k has eigenvalues 1/(1 + s), floored at τ: a start whose factors exceed
    /// 1/τ − 1 is clipped by shrinking Γ, which keeps ψ and loses the factor's variance. Raising ψ
    /// keeps the directions and their variance instead (README, "SGD's defaults": from the
    /// k-means + PCA start on data with small noise, a third of M_k's eigenvalues sat at τ and
    /// SGD could not leave the start).
    public func cappingSignalToNoise(at maximum: Double) throws -> (model: MixtureModel, raised: Int) {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        guard l > 0 else { return (self, 0) }
        var capped = self, raised = 0
        for c in 0..<k {
            // The largest eigenvalue of I + ΛᵀΨ⁻¹Λ, less one.
            guard let largest = try latentPrecision(c).values.max().map({ $0 - 1 }), largest.isFinite, largest > maximum else { continue }
            let factor = Float(largest / maximum)
            for j in 0..<d { capped.noiseVariances[c * d + j] *= factor }
            raised += 1
        }
        return (capped, raised)
    }
}
