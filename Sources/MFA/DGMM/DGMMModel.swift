import Foundation

/// One layer of a deep Gaussian mixture in covariance form (DESIGN.md §3, §5): G components, each
/// mapping z ∈ R^{R_i} to η + Λ z + u with u ~ N(0, diag(ψ)) in R^{R_{i−1}}.
public struct DGMMLayer: Sendable, Equatable {
    /// π, [G], positive, summing to one.
    public var weights: [Float]
    /// η, [G, R_{i−1}].
    public var means: [Float]
    /// Λ, [G, R_{i−1}, R_i].
    public var loadings: [Float]
    /// ψ, [G, R_{i−1}], positive.
    public var noiseVariances: [Float]

    public init(weights: [Float], means: [Float], loadings: [Float], noiseVariances: [Float]) {
        self.weights = weights
        self.means = means
        self.loadings = loadings
        self.noiseVariances = noiseVariances
    }
}

/// A deep Gaussian mixture: its layers, layer 1 (the one that emits x) first.
public struct DGMMModel: Sendable, Equatable {
    public let shape: DGMMShape
    public var layers: [DGMMLayer]

    public init(shape: DGMMShape, layers: [DGMMLayer]) throws {
        guard layers.count == shape.layers else {
            throw MFAError.shapeMismatch("\(layers.count) layers given for a DGMM of \(shape.layers)")
        }
        for (i, layer) in layers.enumerated() {
            let (g, n, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            for (name, count, expected) in [("weights", layer.weights.count, g), ("means", layer.means.count, g * n),
                                            ("loadings", layer.loadings.count, g * n * r),
                                            ("noise_variances", layer.noiseVariances.count, g * n)] where count != expected {
                throw MFAError.shapeMismatch("layer \(i + 1) \(name) has \(count) values, expected \(expected) for \(shape)")
            }
            let values = layer.weights + layer.means + layer.loadings + layer.noiseVariances
            if values.contains(where: { !$0.isFinite }) {
                throw MFAError.nonFiniteInput("layer \(i + 1) of the DGMM holds NaN or infinity")
            }
            if layer.weights.contains(where: { $0 <= 0 }) || layer.noiseVariances.contains(where: { $0 <= 0 }) {
                throw MFAError.invalidArgument("layer \(i + 1): weights and noise variances must be positive")
            }
        }
        self.shape = shape
        self.layers = layers
    }

    /// The marginal of x: a mixture over all paths, each an MFA component (DESIGN.md §3) with
    /// μ_path = η_1 + Λ_1(η_2 + …), loadings Λ_1·chol(S_2) and noise ψ_1; paths in mixed-radix order.
    public func pathMixture() throws -> MixtureModel {
        try DGMMLayerParameters.of(self).pathMixture(shape)
    }

    /// The same distribution after x_j ↦ origin_j + scale_j·x_j: only layer 1 changes.
    public func transformed(origin: [Float], scale: [Float]) throws -> DGMMModel {
        var first = layers[0]
        let (n, r) = (shape.dimension, shape.latent[0])
        first.means = first.means.indices.map { origin[$0 % n] + scale[$0 % n] * first.means[$0] }
        first.loadings = first.loadings.indices.map { scale[$0 / r % n] * first.loadings[$0] }
        first.noiseVariances = first.noiseVariances.indices.map { scale[$0 % n] * scale[$0 % n] * first.noiseVariances[$0] }
        return try DGMMModel(shape: shape, layers: [first] + layers.dropFirst())
    }
}
