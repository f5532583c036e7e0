/// The sizes of a mixture of factor analysers: K components in d dimensions with l latent factors.
public struct MixtureShape: Hashable, Sendable, CustomStringConvertible {
    /// K, the number of components.
    public let components: Int
    /// d, the data dimension.
    public let dimension: Int
    /// l, the latent dimension (0 ≤ l < d); l = 0 is a diagonal-covariance mixture.
    public let latent: Int

    public init(components: Int, dimension: Int, latent: Int) throws {
        guard components >= 1 else {
            throw MFAError.invalidArgument("components must be at least 1 (got \(components))")
        }
        guard dimension >= 1 else {
            throw MFAError.invalidArgument("dimension must be at least 1 (got \(dimension))")
        }
        guard latent >= 0, latent < dimension else {
            throw MFAError.invalidArgument(
                "latent dimension must satisfy 0 ≤ l < d = \(dimension) (got \(latent))")
        }
        self.components = components
        self.dimension = dimension
        self.latent = latent
    }

    public var description: String { "K=\(components) d=\(dimension) l=\(latent)" }

    /// Free parameters with diagonal noise (`freeParameterCount(noise:)` for the others).
    public var freeParameterCount: Int { freeParameterCount(noise: .diagonal) }
}
