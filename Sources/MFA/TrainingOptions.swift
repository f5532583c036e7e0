/// How `SGDTrainer` trains. Defaults are the settings measured on Fashion-MNIST in
/// TRAINING-NOTES.md (Adam, batch 256, τ = 1e-3, per-group rates), re-expressed for data
/// standardised by s = √(mean variance) (s = 0.295 on Fashion-MNIST): the notes' rates in pixel
/// units, μ 3e-2, mixing logits 3e-2, log e 9e-2, Γ 9e-3, are 0.1, 0.03, 0.09 and 0.0027 here.
/// A column of Γ' has squared norm ~ e'(1 − λ), so an entry's size scales like 1/√d: the loadings'
/// rate carries a factor 1/√d (0.75/√784 · 0.1 = 0.0027), which keeps it right for small d too.
public struct TrainingOptions: Sendable, Equatable {
    public enum Optimizer: String, Sendable, CaseIterable { case adam, sgd }
    public enum Initialisation: String, Sendable, CaseIterable {
        /// Means at random training samples (the paper's random initialisation).
        case random
        /// k-means++ seeding and a few Lloyd iterations on a sample.
        case kmeansPlusPlus = "kmeans++"
    }

    public var epochs = 20
    public var batchSize = 256
    /// The base learning rate, for the means in units of the data's standard deviation; the
    /// other groups train at `groupRateMultipliers` times it (the loadings also at 1/√d).
    public var learningRate: Float = 0.1
    public var groupRateMultipliers: [ParameterGroup: Float] = [.means: 1, .logits: 0.3, .logPrecision: 0.9, .loadings: 0.75]
    public var optimizer = Optimizer.adam
    /// Momentum for `.sgd`.
    public var momentum: Float = 0.9
    public var adamBeta1: Float = 0.9
    public var adamBeta2: Float = 0.999
    public var adamEpsilon: Float = 1e-8
    /// Linear warm-up steps before the cosine decay to zero.
    public var warmupSteps = 100
    public var initialisation = Initialisation.random
    /// Lloyd iterations after k-means++ seeding, and the sample they run on.
    public var kmeansIterations = 5
    public var kmeansSampleSize = 10_000
    public var seed: UInt64 = 0
    /// σ²_min: no variance of any component falls below it (like scikit-learn's reg_covar).
    public var minVariance: Double = 1e-3
    /// τ: the floor on the eigenvalues of every M_k after each step.
    public var eigenvalueFloor: Double = 1e-3
    /// Re-seed dead components (weight < 0.1/K) after each epoch of the first half of training.
    public var reinitialiseDead = false
    /// The constraint on each component's diagonal noise.
    public var noise = NoiseStructure.diagonal
    /// EM: the most iterations, and the change in mean log-likelihood per sample below which it stops.
    public var maxIterations = 100
    public var tolerance = 1e-3
    /// SGD: EM iterations to run from the initialisation before SGD starts (`--init em:N`).
    public var emIterationsBeforeSGD = 0

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw MFAError.invalidArgument("--epochs must be at least 1 (got \(epochs))") }
        guard batchSize >= 1 else { throw MFAError.invalidArgument("--batch-size must be at least 1 (got \(batchSize))") }
        guard learningRate > 0, learningRate.isFinite else {
            throw MFAError.invalidArgument("--learning-rate must be positive (got \(learningRate))")
        }
        guard minVariance > 0, minVariance.isFinite else {
            throw MFAError.invalidArgument("--min-variance must be positive (got \(minVariance))")
        }
        guard eigenvalueFloor > 0, eigenvalueFloor < 1 else {
            throw MFAError.invalidArgument("the eigenvalue floor τ must lie in (0, 1) (got \(eigenvalueFloor))")
        }
        guard (0..<1).contains(momentum) else { throw MFAError.invalidArgument("--momentum must lie in [0, 1)") }
        guard maxIterations >= 1 else { throw MFAError.invalidArgument("--max-iterations must be at least 1") }
        guard tolerance >= 0 else { throw MFAError.invalidArgument("--tolerance must not be negative") }
    }

    /// The options every gradient trainer uses (MFA and DGMM), as model-file metadata.
    public var optimiserMetadata: [String: String] {
        ["training.epochs": String(epochs), "training.batch_size": String(batchSize),
         "training.learning_rate": String(learningRate), "training.optimizer": optimizer.rawValue,
         "training.seed": String(seed), "training.min_variance": String(minVariance),
         "training.warmup_steps": String(warmupSteps)]
    }

    /// All the options as metadata strings for an MFA model file.
    public var metadata: [String: String] {
        optimiserMetadata.merging(
            ["training.init": initialisation.rawValue, "training.reinit_dead": String(reinitialiseDead), "noise": noise.rawValue,
             "training.eigenvalue_floor": String(eigenvalueFloor),
             "training.em_iterations_before_sgd": String(emIterationsBeforeSGD)]) { $1 }
    }

    /// The learning rate of each parameter group at base rate `rate`, in d dimensions.
    public func groupRates(_ rate: Float, dimension: Int) -> [ParameterGroup: Float] {
        var rates = [ParameterGroup: Float]()
        for group in ParameterGroup.allCases {
            rates[group] = rate * (groupRateMultipliers[group] ?? 1) / (group == .loadings ? Float(dimension).squareRoot() : 1)
        }
        return rates
    }

    /// The learning-rate factor at step `step` (1-based) of `total`: linear warm-up, cosine decay.
    public func scheduleFactor(step: Int, total: Int) -> Float {
        let warm = warmupSteps > 0 ? min(1, Float(step) / Float(warmupSteps)) : 1
        let progress = Float(step) / Float(max(total, 1))
        return warm * 0.5 * (1 + _cosine(Float.pi * min(progress, 1)))
    }
}
