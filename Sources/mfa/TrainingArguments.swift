import ArgumentParser
import Foundation
import MFA

extension TrainingOptions.Optimizer: ExpressibleByArgument {}
extension NoiseStructure: ExpressibleByArgument {}
extension SelectionCriterion: ExpressibleByArgument {}

/// How `train` and `select` learn.
enum Algorithm: String, ExpressibleByArgument, CaseIterable {
    case sgd, em
}

/// `--init`: random, kmeans++, or em:N (N EM iterations from k-means++, then SGD).
struct InitChoice: ExpressibleByArgument {
    var initialisation: TrainingOptions.Initialisation
    var emIterations = 0

    init?(argument: String) {
        if argument.hasPrefix("em:"), let count = Int(argument.dropFirst(3)), count >= 1 {
            initialisation = .kmeansPlusPlus
            emIterations = count
        } else if let choice = TrainingOptions.Initialisation(rawValue: argument) {
            initialisation = choice
        } else {
            return nil
        }
    }
}

/// The options of gradient training that `train`, `select` and `dgmm train` share.
struct OptimiserArguments: ParsableArguments {
    @Option(help: "Passes over the training data (SGD; default 20 for train and select, 300 for dgmm train).")
    var epochs: Int?

    @Option(help: "Samples per mini-batch (EM: per batch of its statistics).")
    var batchSize = 256

    @Option(help: "Base learning rate, for the means in units of the data's standard deviation; mixing logits train at 0.3×, log-precisions or log noise variances at 0.9×, loadings at 0.75× (MFA: 0.75/√d×).")
    var learningRate: Float = 0.1

    @Option(help: "adam, or sgd (heavy-ball momentum 0.9).")
    var optimizer: TrainingOptions.Optimizer = .adam

    @Option(help: "Seed for initialisation and shuffling; the same seed gives the same model.")
    var seed: UInt64 = 0

    @Option(help: "Variance floor σ²_min in the data's units: no variance falls below it.")
    var minVariance: Double = 1e-3

    func options(defaultEpochs: Int) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs ?? defaultEpochs
        options.batchSize = batchSize
        options.learningRate = learningRate
        options.optimizer = optimizer
        options.seed = seed
        options.minVariance = minVariance
        return options
    }
}

/// The training options `train` and `select` share.
struct TrainingArguments: ParsableArguments {
    @Option(help: "sgd (mini-batch SGD in the precision form) or em (expectation–maximisation, covariance form, mini-batch statistics).")
    var algorithm: Algorithm = .sgd

    @OptionGroup var optimiser: OptimiserArguments

    @Option(help: "random (means at random samples), kmeans++ (k-means++ and 5 Lloyd iterations on ≤10,000 samples) or em:N (kmeans++, then N EM iterations, then SGD). Default: random for sgd, kmeans++ for em.")
    var `init`: InitChoice?

    @Option(help: "EM: the most iterations.")
    var maxIterations = 100

    @Option(help: "EM: stop when the mean log-likelihood per sample changes by less than this.")
    var tolerance = 1e-3

    @Option(help: "diagonal (Ψ_k diagonal), isotropic (Ψ_k = σ_k² I: mixture of PPCA) or shared (one diagonal Ψ for all components).")
    var noise: NoiseStructure = .diagonal

    @Flag(help: "SGD: after each epoch of the first half, move components whose weight fell below 0.1/K onto badly explained samples.")
    var reinitDead = false

    @OptionGroup var backendOptions: BackendOptions

    var options: TrainingOptions {
        var options = optimiser.options(defaultEpochs: 20)
        options.initialisation = self.`init`?.initialisation ?? (algorithm == .em ? .kmeansPlusPlus : .random)
        options.emIterationsBeforeSGD = self.`init`?.emIterations ?? 0
        options.maxIterations = maxIterations
        options.tolerance = tolerance
        options.noise = noise
        options.reinitialiseDead = reinitDead
        return options
    }

    /// The options as model-file metadata.
    var metadata: [String: String] {
        var metadata = options.metadata
        metadata["training.algorithm"] = algorithm.rawValue
        metadata["training.backend"] = backendOptions.backend.rawValue
        if algorithm == .em {
            metadata["training.max_iterations"] = String(maxIterations)
            metadata["training.tolerance"] = String(tolerance)
        }
        return metadata
    }

    /// Trains one (K, l) with the chosen algorithm; warns when EM stops before converging.
    func train<S: SampleSource>(_ x: S, components: Int, latent: Int, validation: (any SampleSource)?, from start: MixtureModel?,
               control: TrainingControl = TrainingControl(), on backend: some Backend,
               progress: (EpochReport) -> Void) throws -> MixtureModel {
        switch algorithm {
        case .sgd:
            return try SGDTrainer(backend: backend, options: options)
                .train(x, components: components, latent: latent, validation: validation, from: start, control: control,
                       progress: progress)
                .covarianceModel()
        case .em:
            let (model, converged) = try EMTrainer(backend: backend, options: options)
                .train(x, components: components, latent: latent, validation: validation, from: start, progress: progress)
            if !converged {
                printError("warning: EM did not converge in \(maxIterations) iterations (tolerance \(tolerance)); the model is the last iterate")
            }
            return model
        }
    }
}
