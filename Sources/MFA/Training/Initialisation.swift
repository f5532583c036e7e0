import CBLAS
import Foundation

/// Starting points for training (docs/DESIGN.md §7): means at random samples or k-means++
/// centres, e = 1/(variance + σ²_min) from the data, Γ small and random (M ≈ 0.99 I), equal weights.
public enum Initialiser {
    /// `moments` are `Standardisation.trainingMoments(data).moments`, when the caller has them already (one pass fewer).
    public static func initialise<B: Backend, S: SampleSource>(_ data: S, shape: MixtureShape, options: TrainingOptions,
                                              backend: B, moments: ColumnMoments? = nil,
                                              random: inout RandomGenerator) throws -> StartingModel {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let means: [Float]
        switch options.initialisation {
        case .random:
            means = try data.gathering(rows: distinctIndices(k, from: data.rows, random: &random)).values
        case .kmeansPlusPlus:
            means = try kmeans(data, components: k, options: options, random: &random).centres
        case .kmeansPCA:
            let (centres, sample, centred) = try kmeans(data, components: k, options: options, random: &random)
            return .covariance(try ClusterPCA(sample: sample, centredSample: centred, centres: centres, latent: l, minVariance: options.minVariance,
                                              noise: options.noise).model(random: &random))
        }
        let variance = try (moments ?? Standardisation.trainingMoments(data).moments).variance
        var e = variance.map { 1 / ($0 + options.minVariance) }
        if options.noise == .isotropic {  // one precision per component: the mean
            e = [Double](repeating: e.reduce(0, +) / Double(e.count), count: e.count)
        }
        let diagonal = (0..<k).flatMap { _ in e.map(Float.init) }
        // E[ΓᵀE⁻¹Γ] = σ² Σ_j 1/e_j · I: choose σ so that M ≈ 0.99 I.
        let sigma = (0.01 / e.reduce(0) { $0 + 1 / $1 }).squareRoot()
        let gamma = (0..<(k * d * l)).map { _ in Float(sigma * random.normal()) }
        return .precision(PrecisionParameters(shape: shape, weights: [Float](repeating: 1 / Float(k), count: k), means: means,
                                              precisionDiagonal: diagonal, precisionLoadings: gamma))
    }

    /// What every trainer does first: checks the options and sizes, then starts from `from` (a warm
    /// start, which must have the shape asked for) or initialises.
    static func start<B: Backend, S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)?,
                                                   from: MixtureModel?,
                                  options: TrainingOptions, backend: B, moments: ColumnMoments? = nil,
                                  random: inout RandomGenerator) throws -> StartingModel {
        try options.validate()
        let shape = try MixtureShape(components: components, dimension: data.columns, latent: latent)
        try checkSizes(data, components: components, validation: validation)
        guard let from else { return try initialise(data, shape: shape, options: options, backend: backend, moments: moments, random: &random) }
        guard from.shape == shape else {
            throw MFAError.shapeMismatch("the starting model is \(from.shape), training asks for \(shape)")
        }
        return .covariance(from)
    }

    /// Enough samples for the components (of layer 1, for a DGMM), and validation data of the same d.
    static func checkSizes(_ data: some SampleSource, components: Int, validation: (any SampleSource)?) throws {
        guard data.rows >= components else {
            throw MFAError.invalidArgument("cannot fit \(components) components to \(data.rows) samples")
        }
        if let validation, validation.columns != data.columns {
            throw MFAError.shapeMismatch("validation data have \(validation.columns) columns, training data \(data.columns)")
        }
    }

    /// `count` distinct indices below `n` (count ≤ n).
    static func distinctIndices(_ count: Int, from n: Int, random: inout RandomGenerator) -> [Int] {
        var chosen = Set<Int>()
        var out = [Int]()
        while out.count < count {
            let index = Int(random.next() % UInt64(n))
            if chosen.insert(index).inserted { out.append(index) }
        }
        return out
    }
}

@inline(__always) func _cosine(_ x: Float) -> Float { Foundation.cos(x) }

/// A trainer's start, in the form it was made in: a round trip through the other form would cost
/// the covariance form's float64 λ (a kmeans-pca start or a `--from` model with signal-to-noise
/// ratios beyond ~10⁶ would come back with M_k not positive definite).
public enum StartingModel {
    case covariance(MixtureModel)
    case precision(PrecisionParameters)

    public func covarianceModel() throws -> MixtureModel {
        switch self {
        case .covariance(let model): model
        case .precision(let model): try model.covarianceModel()
        }
    }

    /// True for a start in the covariance form (the k-means + PCA start, a warm start).
    public var isCovariance: Bool {
        if case .covariance = self { return true }
        return false
    }

    public func precisionParameters() throws -> PrecisionParameters {
        switch self {
        case .covariance(let model): try model.precisionParameters()
        case .precision(let model): model
        }
    }
}
