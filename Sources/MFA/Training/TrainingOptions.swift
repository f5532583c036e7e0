import Foundation

/// How the trainers train (SGD, EM, DGMM). Defaults are the settings measured on Fashion-MNIST in
/// docs/DESIGN.md §7 (Adam, batch 256, τ = 1e-3, per-group rates), re-expressed for data
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
        /// k-means++ as above, then each cluster's leading directions (block power iterations on
        /// its rows of the sample, no d×d matrix) as its loadings, and its residual variance as ψ.
        case kmeansPCA = "kmeans-pca"
    }

    public var epochs = 20
    public var batchSize = 256
    /// Online EM's batch (an M-step per batch: host work that a larger batch amortises), a tenth
    /// of the data when that is smaller, at least 500 (`mfa train`, `mfa bench`).
    public static let onlineEMBatchSize = 5000
    /// The base learning rate, for the means in units of the data's standard deviation; the
    /// other groups train at `groupRateMultipliers` times it (the loadings also at 1/√d).
    public var learningRate: Float = 0.1
    public var groupRateMultipliers: [ParameterGroup: Float] = [.means: 1, .logits: 0.3, .logPrecision: 0.9, .loadings: 0.75]
    /// MFA SGD's own batch, β₁ and group rates (`mfa train --algorithm sgd`; the fields' defaults
    /// stay the DGMM's). Gradient noise starves components: Adam turns a noisy gradient into
    /// full-size steps, and a component with a small share of each batch gets mostly noise. From
    /// random means on Fashion-MNIST (K = 50, l = 10) 20–22 of 50 components starved at batch 256
    /// and β₁ = 0.9, 2–6 at batch 512 and β₁ = 0.99 (a first moment averaged over ~100 steps);
    /// slower means, faster log-precisions and loadings added the rest (README, "SGD's defaults").
    /// The batch is the largest `mfa train` takes: it uses a hundredth of the rows within
    /// [256, 512], so that small data still get 100 steps an epoch.
    public static let sgdBatchSize = 512
    public static let sgdAdamBeta1: Float = 0.99
    public static let sgdGroupRateMultipliers: [ParameterGroup: Float] = [.means: 0.3, .logits: 0.3, .logPrecision: 2.7, .loadings: 2.25]
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
    /// EM: the most iterations (EM's epochs).
    public var maxIterations = 100
    /// Stop when the mean training log-likelihood per sample changes by less than this between
    /// epochs (scikit-learn's tol). nil: EM stops at `defaultEMTolerance`, gradient methods run
    /// every epoch.
    public var tolerance: Double?
    public static let defaultEMTolerance = 1e-3
    /// Independent starts (scikit-learn's n_init); the best final training log-likelihood wins.
    public var restarts = 1
    /// Online EM's step sizes ρ_t = (t + delay)^(−exponent), t the updates so far.
    public var onlineEMExponent = 0.5
    public var onlineEMDelay = 1.0
    /// SGD: EM iterations to run from the initialisation before SGD starts (`--init em:N`).
    public var emIterationsBeforeSGD = 0

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw MFAError.invalidArgument("epochs must be at least 1 (got \(epochs))") }
        guard batchSize >= 1 else { throw MFAError.invalidArgument("the batch size must be at least 1 (got \(batchSize))") }
        guard learningRate > 0, learningRate.isFinite else {
            throw MFAError.invalidArgument("the learning rate must be positive and finite (got \(learningRate))")
        }
        guard minVariance > 0, minVariance.isFinite else {
            throw MFAError.invalidArgument("the variance floor must be positive and finite (got \(minVariance))")
        }
        guard eigenvalueFloor > 0, eigenvalueFloor < 1 else {
            throw MFAError.invalidArgument("the eigenvalue floor τ must lie in (0, 1) (got \(eigenvalueFloor))")
        }
        guard (0..<1).contains(momentum) else { throw MFAError.invalidArgument("the momentum must lie in [0, 1)") }
        guard maxIterations >= 1 else { throw MFAError.invalidArgument("the most EM iterations must be at least 1") }
        guard (tolerance ?? 0) >= 0 else { throw MFAError.invalidArgument("the tolerance must not be negative") }
        guard restarts >= 1 else { throw MFAError.invalidArgument("restarts must be at least 1 (got \(restarts))") }
    }

    /// Every option that changes a trained model, by name, for checkpoints to compare on resume.
    public var settings: [String: String] {
        var settings = ["epochs": String(epochs), "batch_size": String(batchSize), "learning_rate": String(learningRate),
                        "optimizer": optimizer.rawValue, "momentum": String(momentum), "adam_beta1": String(adamBeta1),
                        "adam_beta2": String(adamBeta2), "adam_epsilon": String(adamEpsilon), "warmup_steps": String(warmupSteps),
                        "init": initialisation.rawValue, "kmeans_iterations": String(kmeansIterations),
                        "kmeans_sample_size": String(kmeansSampleSize), "seed": String(seed), "min_variance": String(minVariance),
                        "eigenvalue_floor": String(eigenvalueFloor), "reinit_dead": String(reinitialiseDead), "noise": noise.rawValue,
                        "max_iterations": String(maxIterations), "tolerance": tolerance.map { String($0) } ?? "none",
                        "restarts": String(restarts), "em_iterations_before_sgd": String(emIterationsBeforeSGD),
                        "online_em_exponent": String(onlineEMExponent), "online_em_delay": String(onlineEMDelay)]
        for (group, multiplier) in groupRateMultipliers { settings["rate_multiplier.\(group.rawValue)"] = String(multiplier) }
        return settings
    }

    /// The most mean log-likelihood per sample any model of d dimensions with this variance floor
    /// can have: log N(x | μ, Σ) ≤ −d/2·log(2π) − ½ log det Σ, and every Σ here is at least
    /// diag(σ²_min) (log π_k ≤ 0, the quadratic ≥ 0); one nat of slack for float32.
    public func logLikelihoodCeiling(dimension: Int) -> Double {
        -0.5 * Double(dimension) * Foundation.log(2 * Double.pi * minVariance) + 1
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
