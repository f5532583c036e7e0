import CBLAS
import Foundation

/// Starting points for training (docs/DESIGN.md §7): means at random samples or k-means++
/// centres, e = 1/(variance + σ²_min) from the data, Γ small and random (M ≈ 0.99 I), equal weights.
public enum Initialiser {
    /// `moments` are `data.columnMoments()`, when the caller has them already (one pass fewer).
    public static func initialise<B: Backend, S: SampleSource>(_ data: S, shape: MixtureShape, options: TrainingOptions,
                                              backend: B, moments: ColumnMoments? = nil,
                                              random: inout RandomGenerator) throws -> StartingModel {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let means: [Float]
        switch options.initialisation {
        case .random:
            means = try data.gathering(rows: distinctIndices(k, from: data.rows, random: &random)).values
        case .kmeansPlusPlus:
            means = try kmeans(data, components: k, options: options, backend: backend, random: &random).centres
        case .kmeansPCA:
            let (centres, sample, centred) = try kmeans(data, components: k, options: options, backend: backend, random: &random)
            return .covariance(try ClusterPCA(sample: sample, centredSample: centred, centres: centres, latent: l, minVariance: options.minVariance,
                                              noise: options.noise).model(random: &random))
        }
        let variance = try (moments ?? data.columnMoments()).variance
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

    /// The rows less their mean (the mean summed in float64), the mean, and each centred row's
    /// squared norm: what distances by GEMM are computed on.
    static func centred(_ sample: Matrix) -> CentredRows {
        let (n, d) = (sample.rows, sample.columns)
        var mean = [Double](repeating: 0, count: d)
        var values = sample.values
        var norms = [Double](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { x in
            for r in 0..<n { for j in 0..<d { mean[j] += Double(x[r * d + j]) } }
            for j in 0..<d { mean[j] /= Double(max(n, 1)) }
            for r in 0..<n {
                var norm = 0.0
                for j in 0..<d {
                    x[r * d + j] -= Float(mean[j])
                    norm += Double(x[r * d + j]) * Double(x[r * d + j])
                }
                norms[r] = norm
            }
        }
        return (values, mean.map { Float($0) }, norms)
    }

    /// k-means++ seeding on a sample, then Lloyd iterations whose assignment step is the
    /// backend's forward pass of an isotropic, equal-weight mixture (argmax ℓ = nearest centre).
    static func kmeans<B: Backend, S: SampleSource>(_ data: S, components k: Int, options: TrainingOptions, backend: B,
                                   random: inout RandomGenerator) throws -> (centres: [Float], sample: Matrix, centred: CentredRows) {
        let d = data.columns
        guard min(options.kmeansSampleSize, data.rows) >= k else {
            throw MFAError.invalidArgument("the k-means sample of \(options.kmeansSampleSize) rows is smaller than K = \(k) (--kmeans-sample)")
        }
        let sample = try data.gathering(rows: distinctIndices(min(options.kmeansSampleSize, data.rows), from: data.rows,
                                                              random: &random))
        let n = sample.rows
        var centres = [Float]()
        centres.append(contentsOf: sample.row(Int(random.next() % UInt64(n))))
        // ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖², the products for each new centre as one GEMV, on data
        // centred on the sample's mean (distances do not change; float32 cancellation would, for
        // data far from zero).
        var distance = [Double](repeating: .infinity, count: n)
        let centred = Self.centred(sample)
        let norms = centred.squaredNorms
        var products = [Float](repeating: 0, count: n)
        for c in 1..<max(k, 1) {
            let centre = (0..<d).map { centres[(c - 1) * d + $0] - centred.mean[$0] }
            cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(d), 1, centred.values, blasint(d), centre, 1, 0,
                        &products, 1)
            let centreNorm = centre.reduce(0.0) { $0 + Double($1) * Double($1) }
            for r in 0..<n { distance[r] = min(distance[r], max(norms[r] - 2 * Double(products[r]) + centreNorm, 0)) }
            centres.append(contentsOf: sample.row(random.index(weightedBy: distance)))
        }
        guard options.kmeansIterations > 0 else { return (centres, sample, centred) }
        let shape = try MixtureShape(components: k, dimension: d, latent: 0)
        let batch = 1024
        let engine = try MixtureEngine(backend: backend, shape: shape, capacity: min(batch, n),
                                       origin: try sample.columnMoments().mean.map(Float.init))
        for _ in 0..<options.kmeansIterations {
            try engine.load(PrecisionParameters(shape: shape, weights: [Float](repeating: 1 / Float(k), count: k),
                                                means: centres, precisionDiagonal: [Float](repeating: 1, count: k * d),
                                                precisionLoadings: []))
            var sums = [Double](repeating: 0, count: k * d)
            var counts = [Int](repeating: 0, count: k)
            for start in stride(from: 0, to: n, by: batch) {
                let rows = start..<min(start + batch, n)
                try engine.loadBatch(sample, rows: rows)
                try engine.forward()
                let r = try engine.readResponsibilities()
                for (offset, row) in rows.enumerated() {
                    let scores = r[(offset * k)..<((offset + 1) * k)]
                    let nearest = scores.indices.max(by: { scores[$0] < scores[$1] })! - offset * k
                    counts[nearest] += 1
                    for j in 0..<d { sums[nearest * d + j] += Double(sample[row, j]) }
                }
            }
            for c in 0..<k where counts[c] > 0 {
                for j in 0..<d { centres[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
            }
        }
        return (centres, sample, centred)
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

    public func precisionParameters() throws -> PrecisionParameters {
        switch self {
        case .covariance(let model): try model.precisionParameters()
        case .precision(let model): model
        }
    }
}

/// A sample's rows less their mean, the mean, and each centred row's squared norm: what the
/// start's distances by GEMM are computed on (computed once, by `Initialiser.kmeans`).
typealias CentredRows = (values: [Float], mean: [Float], squaredNorms: [Double])
