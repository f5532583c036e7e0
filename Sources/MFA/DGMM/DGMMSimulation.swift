import Foundation

/// Random DGMMs with known structure, for ground truth (the recipe of the DGMM paper's §3.1: equal
/// weights, Gaussian means, loadings with some zeros, diagonal noise; its exact distributions are
/// in supplementary files we do not have, so these are ours, stated here):
///
/// - π = 1/G in every layer;
/// - η ~ N(0, separation² I) for every component of every layer;
/// - Λ entries ~ N(0, 1/r), each set to zero with probability 1/4;
/// - ψ ~ U(0.2, 0.6) per coordinate;
/// - then x is put in units like the paper's, columns in the hundreds: x_j ↦ o_j + c_j x_j with
///   o_j ~ U(100, 400) and c_j ~ U(20, 60).
public enum DGMMSimulation {
    public static func model(_ shape: DGMMShape, separation: Double = 3, random: inout RandomGenerator) throws -> DGMMModel {
        let layers = (0..<shape.layers).map { i in
            let (g, n, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            let spread = 1 / Double(r).squareRoot()
            return DGMMLayer(
                weights: [Float](repeating: 1 / Float(g), count: g),
                means: (0..<(g * n)).map { _ in Float(separation * random.normal()) },
                loadings: (0..<(g * n * r)).map { _ in
                    let value = spread * random.normal()
                    return random.uniform() < 0.25 ? 0 : Float(value)
                },
                noiseVariances: (0..<(g * n)).map { _ in Float(0.2 + 0.4 * random.uniform()) })
        }
        let d = shape.dimension
        let origin = (0..<d).map { _ in Float(100 + 300 * random.uniform()) }
        let scale = (0..<d).map { _ in Float(20 + 40 * random.uniform()) }
        return try DGMMModel(shape: shape, layers: layers).transformed(origin: origin, scale: scale)
    }
}

extension DGMMModel {
    /// `count` samples drawn through the layers' generative process, with each sample's path.
    public func sample(count: Int, random: inout RandomGenerator) throws -> (samples: Matrix, paths: [Int]) {
        let drawn = try pathMixture().sample(count: count, random: &random)
        return (drawn.samples, drawn.components)
    }
}
