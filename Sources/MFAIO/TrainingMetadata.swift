import Foundation
import MFA

/// How a model was trained, as model-file metadata: every `training.*` key lives here.
public struct TrainingRecord {
    public var algorithm: String
    public var options: TrainingOptions
    public var backend: String
    public var data: String
    public var from: String?
    public var seconds: Double?
    public var validationLogLikelihood: Double?
    /// Mean training log-likelihood per sample of the kept restart, and which restart it was (0-based).
    public var trainLogLikelihood: Double?
    public var bestRestart: Int?
    public var annealing: Annealing?
    /// Facts of a command's own (e.g. "bic", "selection.criterion").
    public var extra: [String: String] = [:]

    public init(algorithm: String, options: TrainingOptions, backend: String, data: String) {
        self.algorithm = algorithm
        self.options = options
        self.backend = backend
        self.data = data
    }

    public var metadata: [String: String] {
        let o = options
        var metadata = [
            "training.algorithm": algorithm, "training.backend": backend, "training.data": data,
            "training.epochs": String(o.epochs), "training.batch_size": String(o.batchSize),
            "training.learning_rate": String(o.learningRate), "training.optimizer": o.optimizer.rawValue,
            "training.seed": String(o.seed), "training.min_variance": String(o.minVariance),
            "training.warmup_steps": String(o.warmupSteps), "training.restarts": String(o.restarts),
        ]
        if let tolerance = o.tolerance { metadata["training.tolerance"] = String(tolerance) }
        if !["em", "online-em"].contains(algorithm) {  // the gradient trainers' step (SGD's and DGMM's defaults differ)
            if o.optimizer == .adam { metadata["training.adam_beta1"] = String(o.adamBeta1) }
            for (group, multiplier) in o.groupRateMultipliers { metadata["training.rate_multiplier.\(group.rawValue)"] = String(multiplier) }
        }
        if let annealing {
            metadata["training.temperature"] = String(annealing.initialTemperature)
            metadata["training.anneal_fraction"] = String(annealing.fraction)
        } else {
            metadata["training.init"] = o.initialisation.rawValue
            metadata["training.reinit_dead"] = String(o.reinitialiseDead)
            metadata["noise"] = o.noise.rawValue
            metadata["training.eigenvalue_floor"] = String(o.eigenvalueFloor)
            metadata["training.em_iterations_before_sgd"] = String(o.emIterationsBeforeSGD)
            if algorithm == "em" { metadata["training.max_iterations"] = String(o.maxIterations) }
        }
        if let from { metadata["training.from"] = from }
        if let seconds { metadata["training.seconds"] = String(format: "%.1f", seconds) }
        if let validationLogLikelihood { metadata["validation_log_likelihood"] = String(validationLogLikelihood) }
        if let trainLogLikelihood { metadata["train_log_likelihood"] = String(trainLogLikelihood) }
        if let bestRestart { metadata["training.best_restart"] = String(bestRestart + 1) }
        return metadata.merging(extra) { $1 }
    }
}
