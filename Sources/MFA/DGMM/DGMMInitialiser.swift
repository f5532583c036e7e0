import Foundation

/// Random starting points for DGMM training, in its whitened units (every column with mean 0 and
/// variance 1): layer-1 means at random samples (or at k-means++ centres, `kmeansCentres`),
/// deeper means and all loadings standard normal
/// (scaled by 1/√r so each layer keeps its input's scale), noise variances at half the variance
/// they model, equal weights. The loadings of layer 1 are then scaled so that the factors explain
/// about half of each path's variance.
enum DGMMInitialiser {
    static func random<S: SampleSource>(_ shape: DGMMShape, data: S, variance: [Double],
                                        units: DGMMUnits, centres: [Float]? = nil,
                                        random: inout RandomGenerator) throws -> [DGMMLayerParameters] {
        let d = shape.dimension
        var layers = DGMMLayerParameters.zeros(shape)
        if let centres {
            for p in 0..<(shape.components[0] * d) { layers[0].means[p] = Double(centres[p]) }
        } else {
            let rows = Initialiser.distinctIndices(shape.components[0], from: data.rows, random: &random)
            let samples = try data.gathering(rows: rows)
            for g in rows.indices {
                for j in 0..<d { layers[0].means[g * d + j] = Double(samples[g, j]) }
            }
        }
        for i in 0..<shape.layers {
            let (g, n, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            if i > 0 { layers[i].means = (0..<(g * n)).map { _ in random.normal() } }
            let spread = 1 / Double(r).squareRoot()
            layers[i].loadings = (0..<(g * n * r)).map { _ in spread * random.normal() }
            // A constant column has no variance to halve: its noise starts at the floor.
            layers[i].logNoise = (0..<(g * n)).map { max(Foundation.log(0.5 * (i == 0 ? variance[$0 % n] : 1)), units.logFloor(layer: i, index: $0)) }
        }
        // Λ_1 S_2 Λ_1ᵀ has mean diagonal ≈ tr(S_2)/r_1 (entries of Λ_1 have variance 1/r_1): scale
        // Λ_1 so that it is half of the data's mean variance, 1.
        let inner = PathTerms(layers, shape: shape, path: 0).inner[1]
        let r = shape.latent[0]
        let meanInner = (0..<r).reduce(0) { $0 + inner[$1 * r + $1] } / Double(r)
        let factor = (0.5 / meanInner).squareRoot()
        layers[0].loadings = layers[0].loadings.map { $0 * factor }
        return layers
    }
}

extension DGMMInitialiser {
    /// Layer 1's means for `--init kmeans++`: k-means++ and Lloyd iterations (`Initialiser.kmeans`)
    /// on training's whitened data, so that columns in large units do not decide the clusters alone.
    static func kmeansCentres<S: SampleSource>(_ whitened: S, components: Int, options: TrainingOptions,
                                               random: inout RandomGenerator) throws -> [Float] {
        try Initialiser.kmeans(whitened, components: components, options: options, random: &random).centres
    }
}

/// A source's rows with every column centred and divided by its standard deviation.
struct WhitenedColumns<Base: SampleSource>: SampleSource {
    let base: Base
    let mean: [Double]
    let deviation: [Double]

    var rows: Int { base.rows }
    var columns: Int { base.columns }

    var blockRows: Int? { base.blockRows }
    func release(_ range: Range<Int>) { base.release(range) }

    func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws {
        try base.copyRow(index, into: target)
        for j in 0..<columns { target[j] = Float((Double(target[j]) - mean[j]) / deviation[j]) }
    }

    func copyRow(_ index: Int, intoDoubles target: UnsafeMutablePointer<Double>) throws {
        try base.copyRow(index, intoDoubles: target)
        for j in 0..<columns { target[j] = (target[j] - mean[j]) / deviation[j] }
    }
}
