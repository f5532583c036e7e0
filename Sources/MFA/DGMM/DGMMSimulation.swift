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
///
/// `Range` draws harder cases (like the DGMM authors' own data, whose paths have signal-to-noise
/// ratios near 10⁷): layer 1's noise of each component scaled so that the largest covariance
/// eigenvalue of the paths through it is `signalToNoise` times its mean noise variance; c_j
/// log-uniform in [1, columnScale] and o_j uniform in [−offset, offset] (as `MFASimulation`).
public enum DGMMSimulation {
    public struct Range: Sendable, Equatable {
        public var signalToNoise: Double
        public var columnScale: Double
        public var offset: Double

        public init(signalToNoise: Double, columnScale: Double = 1, offset: Double = 0) {
            self.signalToNoise = signalToNoise
            self.columnScale = columnScale
            self.offset = offset
        }
    }

    public static func model(_ shape: DGMMShape, separation: Double = 3, range: Range? = nil,
                             random: inout RandomGenerator) throws -> DGMMModel {
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
        guard let range else {
            let origin = (0..<d).map { _ in Float(100 + 300 * random.uniform()) }
            let scale = (0..<d).map { _ in Float(20 + 40 * random.uniform()) }
            return try DGMMModel(shape: shape, layers: layers).transformed(origin: origin, scale: scale)
        }
        try MFASimulation.Settings(signalToNoise: range.signalToNoise, columnScale: range.columnScale, offset: range.offset).validate()
        let model = try withSignalToNoise(try DGMMModel(shape: shape, layers: layers), range.signalToNoise)
        let scale = (0..<d).map { _ in Float(Foundation.exp(random.uniform() * Foundation.log(range.columnScale))) }
        let origin = (0..<d).map { _ in Float(range.offset * (2 * random.uniform() - 1)) }
        return try model.transformed(origin: origin, scale: scale)
    }

    /// Layer 1's noise variances of each component rescaled (their mean to λ/ratio, λ the largest
    /// signal eigenvalue of the paths through it, in unit coordinates).
    static func withSignalToNoise(_ model: DGMMModel, _ ratio: Double) throws -> DGMMModel {
        let shape = model.shape
        let (g, d, r) = (shape.components[0], shape.dimension, shape.latent[0])
        let paths = try model.pathMixture()
        var largest = [Double](repeating: 0, count: g)
        for path in 0..<shape.pathCount {
            let loadings = paths.loadings[(path * d * r)..<((path + 1) * d * r)].map(Double.init)
            var gram = [Double](repeating: 0, count: r * r)
            for j in 0..<d { for p in 0..<r { for q in 0..<r { gram[p * r + q] += loadings[j * r + p] * loadings[j * r + q] } } }
            let first = shape.choices(path: path)[0]
            largest[first] = max(largest[first], try SmallLinearAlgebra.symmetricEigen(gram, order: r).values.last!)
        }
        var layers = model.layers
        for c in 0..<g {
            let noise = layers[0].noiseVariances[(c * d)..<((c + 1) * d)]
            let factor = largest[c] / ratio / (noise.reduce(0) { $0 + Double($1) } / Double(d))
            for j in 0..<d { layers[0].noiseVariances[c * d + j] = Float(Double(layers[0].noiseVariances[c * d + j]) * factor) }
        }
        return try DGMMModel(shape: shape, layers: layers)
    }
}

extension DGMMModel {
    /// `count` samples drawn through the layers' generative process, with each sample's path.
    public func sample(count: Int, random: inout RandomGenerator) throws -> (samples: Matrix, paths: [Int]) {
        let drawn = try pathMixture().sample(count: count, random: &random)
        return (drawn.samples, drawn.components)
    }
}
