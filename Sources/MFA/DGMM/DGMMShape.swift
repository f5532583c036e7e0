/// The sizes of a deep Gaussian mixture (DESIGN.md §3): L layers, layer i with G_i components
/// mapping R_i latent dimensions to R_{i−1} (R_0 = d), d > R_1 > … > R_L ≥ 1.
///
/// A path picks one component per layer. Paths are numbered as the mixed-radix number of their
/// choices, layer 1 most significant: path = ((g_1·G_2 + g_2)·G_3 + g_3)… (all 0-based).
public struct DGMMShape: Hashable, Sendable, CustomStringConvertible {
    /// d, the data dimension.
    public let dimension: Int
    /// G_1 … G_L.
    public let components: [Int]
    /// R_1 … R_L.
    public let latent: [Int]

    public init(dimension: Int, components: [Int], latent: [Int]) throws {
        guard !components.isEmpty else { throw MFAError.invalidArgument("a DGMM needs at least one layer") }
        guard components.count == latent.count else {
            throw MFAError.invalidArgument("\(components.count) layers of components but \(latent.count) latent dimensions: give one of each per layer")
        }
        guard components.allSatisfy({ $0 >= 1 }) else {
            throw MFAError.invalidArgument("every layer needs at least one component (got \(components))")
        }
        let sizes = [dimension] + latent
        guard latent.last! >= 1, zip(sizes, sizes.dropFirst()).allSatisfy({ $0 > $1 }) else {
            throw MFAError.invalidArgument("latent dimensions must strictly decrease from d = \(dimension) and stay at least 1 (got \(latent))")
        }
        self.dimension = dimension
        self.components = components
        self.latent = latent
    }

    public var layers: Int { components.count }

    /// R_{i−1}, the dimension layer i (0-based index i−1) maps into: d for layer 1.
    public func inputDimension(layer index: Int) -> Int { index == 0 ? dimension : latent[index - 1] }

    public var pathCount: Int { components.reduce(1, *) }

    /// The component of every layer on path `path`, layer 1 first.
    public func choices(path: Int) -> [Int] {
        var rest = path, out = [Int](repeating: 0, count: layers)
        for i in stride(from: layers - 1, through: 0, by: -1) {
            out[i] = rest % components[i]
            rest /= components[i]
        }
        return out
    }

    /// The path through `choices` (one per layer, layer 1 first).
    public func path(choices: [Int]) -> Int {
        zip(choices, components).reduce(0) { $0 * $1.1 + $1.0 }
    }

    /// The mixture over paths as an MFA: K = Π G_i components with l = R_1.
    public var pathShape: MixtureShape {
        get throws { try MixtureShape(components: pathCount, dimension: dimension, latent: latent[0]) }
    }

    /// Free parameters: per layer G−1 weights, and per component its mean, noise variances and
    /// loadings less the R(R−1)/2 of their rotational freedom (as for an MFA).
    public var freeParameterCount: Int {
        (0..<layers).reduce(0) { total, i in
            let (g, input, r) = (components[i], inputDimension(layer: i), latent[i])
            return total + (g - 1) + g * (2 * input + input * r - r * (r - 1) / 2)
        }
    }

    public var description: String {
        "d=\(dimension) components \(components.map(String.init).joined(separator: ",")) latent \(latent.map(String.init).joined(separator: ","))"
    }
}
