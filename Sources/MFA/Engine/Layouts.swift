/// Where each parameter group lives in the flat parameter buffer θ (and in its gradient and
/// optimizer moments, which share the layout). Row-major and component-major throughout, so that
/// every per-component pass walks contiguous memory:
///
///     means          μ      [K, d]
///     logPrecision   a      [K, d]      e = exp(a)
///     loadings       Γᵀ     [K, l, d]   row k·l + i is column i of Γ_k: one GEMM X·Γᵀ gives all latents
///     logits         α      [K]         π = softmax(α)
public struct ParameterLayout: Hashable, Sendable {
    public let shape: MixtureShape
    public init(shape: MixtureShape) { self.shape = shape }

    var kd: Int { shape.components * shape.dimension }
    public var means: Range<Int> { 0..<kd }
    public var logPrecision: Range<Int> { kd..<(2 * kd) }
    public var loadings: Range<Int> { (2 * kd)..<(2 * kd + kd * shape.latent) }
    public var logits: Range<Int> { loadings.upperBound..<(loadings.upperBound + shape.components) }
    public var count: Int { logits.upperBound }

    /// The parameter groups with their ranges, in layout order.
    public var groups: [(group: ParameterGroup, range: Range<Int>)] {
        [(.means, means), (.logPrecision, logPrecision), (.loadings, loadings), (.logits, logits)]
    }
}

/// The parameter groups, which train at different learning rates (docs/DESIGN.md §7).
public enum ParameterGroup: String, CaseIterable, Sendable {
    case means, logPrecision, loadings, logits
}

/// Per-component quantities derived from θ before each forward pass (`prepareComponents`), and
/// the eigenvalues of M_k that the projection leaves behind. Float32 storage; computed in float64.
///
///     quadratic      [K, 2d]   [e_k | −2 e_k∘μ_k]: one GEMM [X∘X | X]·quadraticᵀ gives Σ_j e_kj x_j² − 2 x·(e_k∘μ_k)
///     offsets        [K]       log π_k − (d/2) log 2π + ½(Σ_j log e_kj + log det M_k) − ½ Σ_j e_kj μ_kj²
///     latentShift    [K, l]    Γ_kᵀ μ_k
///     leverage       [K, d]    γ_kj M_k⁻¹ γ_kjᵀ  (γ_kj: row j of Γ_k)
///     weights        [K]       π
///     eigenvalues    [K, l]    λ: M_k = diag(λ_k) once the projection has rotated Γ_k
///     clipped        [K]       eigenvalues the projections clipped to τ since the engine last
///                              read them (NaN marks a fault), so no step has to read anything back
public struct ComponentLayout: Hashable, Sendable {
    public let shape: MixtureShape
    public init(shape: MixtureShape) { self.shape = shape }

    var k: Int { shape.components }
    var d: Int { shape.dimension }
    var kl: Int { shape.components * shape.latent }
    public var quadratic: Range<Int> { 0..<(2 * k * d) }
    public var offsets: Range<Int> { quadratic.upperBound..<(quadratic.upperBound + k) }
    public var latentShift: Range<Int> { offsets.upperBound..<(offsets.upperBound + kl) }
    public var leverage: Range<Int> { latentShift.upperBound..<(latentShift.upperBound + k * d) }
    public var weights: Range<Int> { leverage.upperBound..<(leverage.upperBound + k) }
    public var eigenvalues: Range<Int> { weights.upperBound..<(weights.upperBound + kl) }
    public var clipped: Range<Int> { eigenvalues.upperBound..<(eigenvalues.upperBound + k) }
    public var count: Int { clipped.upperBound }
}
