/// A mixture of factor analysers in covariance form, the canonical, tool-independent parameters
/// that model files store (DESIGN.md §1, §5):
///
///     p(x) = Σ_k π_k N(x | μ_k, Λ_k Λ_kᵀ + diag(ψ_k))
public struct MixtureModel: Sendable, Equatable {
    public var shape: MixtureShape
    /// π, [K], positive, summing to one.
    public var weights: [Float]
    /// μ, [K, d].
    public var means: [Float]
    /// Λ, [K, d, l].
    public var loadings: [Float]
    /// ψ, [K, d], positive.
    public var noiseVariances: [Float]

    public init(shape: MixtureShape, weights: [Float], means: [Float], loadings: [Float], noiseVariances: [Float]) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        for (name, count, expected) in [("weights", weights.count, k), ("means", means.count, k * d),
                                        ("loadings", loadings.count, k * d * l),
                                        ("noise_variances", noiseVariances.count, k * d)] where count != expected {
            throw MFAError.shapeMismatch("\(name) has \(count) values, expected \(expected) for \(shape)")
        }
        for (name, values) in [("weights", weights), ("means", means), ("loadings", loadings),
                               ("noise_variances", noiseVariances)] {
            if values.contains(where: { !$0.isFinite }) {
                throw MFAError.nonFiniteInput("model tensor \(name) holds NaN or infinity")
            }
        }
        if weights.contains(where: { $0 <= 0 }) || noiseVariances.contains(where: { $0 <= 0 }) {
            throw MFAError.invalidArgument("weights and noise variances must be positive")
        }
        self.shape = shape
        self.weights = weights
        self.means = means
        self.loadings = loadings
        self.noiseVariances = noiseVariances
    }
}

/// The same model in precision form, what SGD trains (DESIGN.md §1):
///
///     P_k = Σ_k⁻¹ = E_k − Γ_k Γ_kᵀ,  E_k = diag(e_k),  M_k = I − Γ_kᵀ E_k⁻¹ Γ_k
public struct PrecisionParameters: Sendable, Equatable {
    public var shape: MixtureShape
    /// π, [K].
    public var weights: [Float]
    /// μ, [K, d].
    public var means: [Float]
    /// e, [K, d], positive.
    public var precisionDiagonal: [Float]
    /// Γ, [K, d, l].
    public var precisionLoadings: [Float]

    public init(shape: MixtureShape, weights: [Float], means: [Float], precisionDiagonal: [Float], precisionLoadings: [Float]) {
        self.shape = shape
        self.weights = weights
        self.means = means
        self.precisionDiagonal = precisionDiagonal
        self.precisionLoadings = precisionLoadings
    }
}

extension MixtureModel {
    /// The model as a strategy's state (checkpoints, the best restart), and back.
    var state: StrategyState {
        StrategyState(floats: ["weights": weights, "means": means, "loadings": loadings, "noise_variances": noiseVariances])
    }

    init(state: StrategyState, shape: MixtureShape) throws {
        try self.init(shape: shape, weights: try state.floats("weights"), means: try state.floats("means"),
                      loadings: try state.floats("loadings"), noiseVariances: try state.floats("noise_variances"))
    }
}
