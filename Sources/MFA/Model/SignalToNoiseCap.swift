import Foundation

extension MixtureModel {
    /// The model with each component's noise variances raised by one factor, where needed, so that
    /// no factor's signal-to-noise ratio (an eigenvalue of ΛᵀΨ⁻¹Λ) exceeds `maximum`. The precision
    /// form's M_k has eigenvalues 1/(1 + s), floored at τ: a start whose factors exceed
    /// 1/τ − 1 is clipped by shrinking Γ, which keeps ψ and loses the factor's variance. Raising ψ
    /// keeps the directions and their variance instead (README, "SGD's defaults": from the
    /// k-means + PCA start on data with small noise, a third of M_k's eigenvalues sat at τ and
    /// SGD could not leave the start).
    public func cappingSignalToNoise(at maximum: Double) -> (model: MixtureModel, raised: Int) {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        guard l > 0 else { return (self, 0) }
        var capped = self, raised = 0
        for c in 0..<k {
            // G = ΛᵀΨ⁻¹Λ (l×l) in float64.
            var g = [Double](repeating: 0, count: l * l)
            for j in 0..<d {
                let inverse = 1 / Double(noiseVariances[c * d + j])
                let row = (c * d + j) * l
                for a in 0..<l {
                    let x = Double(loadings[row + a]) * inverse
                    for b in a..<l { g[a * l + b] += x * Double(loadings[row + b]) }
                }
            }
            for a in 0..<l { for b in 0..<a { g[a * l + b] = g[b * l + a] } }
            guard let largest = SymmetricJacobi.eigen(g, order: l).values.last, largest.isFinite, largest > maximum else { continue }
            let factor = Float(largest / maximum)
            for j in 0..<d { capped.noiseVariances[c * d + j] *= factor }
            raised += 1
        }
        return (capped, raised)
    }
}
