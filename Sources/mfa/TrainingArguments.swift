import ArgumentParser
import Foundation
import MFA
import MFAIO

extension TrainingOptions.Optimizer: ExpressibleByArgument {}
extension NoiseStructure: ExpressibleByArgument {}
extension SelectionCriterion: ExpressibleByArgument {}

/// How `train` and `select` learn.
enum Algorithm: String, ExpressibleByArgument, CaseIterable {
    case sgd, em
    case onlineEM = "online-em"
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
    @Option(help: "The most passes over the training data (default 22 for online-em, of which the last is one exact EM step; 20 for sgd; 100 for em; 600 for dgmm train, two thirds of them exact EM).")
    var epochs: Int?

    @Option(help: "Independent starts (scikit-learn's n_init); the one with the best final training log-likelihood is kept. Validation data never choose.")
    var restarts = 1

    @Option(help: "Stop when the mean training log-likelihood per sample changes by less than this between epochs (default: 1e-3 for EM; gradient methods run every epoch). SGD, and a DGMM trained without annealing (as --from does), also undo and run again at half the rate an epoch that leaves 4,096 probe rows less likely than the restart's start did by more than this (default there: 1e-3).")
    var tolerance: Double?

    @Option(name: .customLong("batch-size"), help: "Samples per mini-batch (default 256; sgd: a hundredth of the data within [256, 512]; online-em: 5000, or a tenth of the data when smaller, at least 500; EM: per batch of its statistics).")
    var batchSizeOption: Int?

    var batchSize: Int { batchSizeOption ?? 256 }

    @Option(help: "Base learning rate, in units of the data's standard deviation; means train at 1×, mixing logits at 0.3×, log-precisions or log noise variances at 0.9×, loadings at 0.75× (dgmm train), or means 0.3×, logits 0.3×, log-precisions 2.7×, loadings 2.25/√d× with Adam's β₁ = 0.99 (train --algorithm sgd).")
    var learningRate: Float?

    @Option(help: "adam, or sgd (heavy-ball momentum 0.9).")
    var optimizer: TrainingOptions.Optimizer?

    @Option(help: "Seed for initialisation and shuffling; the same seed gives the same model.")
    var seed: UInt64 = 0

    @Option(help: "Variance floor σ²_min in the data's units: no variance falls below it.")
    var minVariance: Double = 1e-3

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1 (got \(epochs))") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be positive (got \(learningRate))")
        }
        if !(minVariance > 0 && minVariance.isFinite) { throw ValidationError("--min-variance must be positive (got \(minVariance))") }
        if restarts < 1 { throw ValidationError("--restarts must be at least 1 (got \(restarts))") }
        if let tolerance, !(tolerance >= 0) { throw ValidationError("--tolerance must be a number ≥ 0 (got \(tolerance))") }
    }

    func options(defaultEpochs: Int) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs ?? defaultEpochs
        options.batchSize = batchSize
        options.learningRate = learningRate ?? 0.1
        options.optimizer = optimizer ?? .adam
        options.seed = seed
        options.minVariance = minVariance
        options.restarts = restarts
        options.tolerance = tolerance
        return options
    }
}

/// The training options `train` and `select` share.
struct TrainingArguments: ParsableArguments {
    @Option(help: "online-em (the default: stochastic-approximation EM, an M-step after every batch on running averages of the statistics, the best model per second), em (batch expectation–maximisation, covariance form, mini-batch statistics) or sgd (mini-batch SGD in the precision form, the paper's method).")
    var algorithm: Algorithm = .onlineEM

    @OptionGroup var optimiser: OptimiserArguments

    @Option(help: "random (means at random samples), kmeans++ (k-means++ and 5 Lloyd iterations on ≤10,000 samples), kmeans-pca (kmeans++, then each cluster's leading directions as its loadings) or em:N (kmeans++, then N EM iterations, then SGD). Default: kmeans-pca for sgd and online-em, kmeans++ for em.")
    var `init`: InitChoice?

    @Option(help: "EM: the most iterations (an alias of --epochs for EM; default 100).")
    var maxIterations: Int?

    @Option(help: "k-means (kmeans++, kmeans-pca, em:N inits): Lloyd iterations after seeding (default 5; online-em: 10).")
    var kmeansIterations: Int?

    @Option(help: "k-means: the random sample of training rows it runs on; kmeans-pca also finds each cluster's directions on it (default 10,000; online-em: 20,000).")
    var kmeansSample: Int?

    @Option(help: "online-em: step sizes ρ_t = (t + delay)^(−exponent) after t updates, in (0, 1]; the theory asks for (0.5, 1], and 0.5 worked best here.")
    var stepExponent: Double?

    @Option(help: "online-em: the delay t₀ in the step sizes (larger: smaller early steps).")
    var stepDelay: Double?

    @Option(help: "diagonal (Ψ_k diagonal), isotropic (Ψ_k = σ_k² I: mixture of PPCA) or shared (one diagonal Ψ for all components).")
    var noise: NoiseStructure = .diagonal

    @Flag(help: "SGD: after each epoch of the first half, move components whose weight fell below 0.1/K onto badly explained samples.")
    var reinitDead = false

    @OptionGroup var backendOptions: BackendOptions

    var options: TrainingOptions {
        var options = optimiser.options(defaultEpochs: 20)
        options.batchSize = optimiser.batchSizeOption
            ?? [Algorithm.onlineEM: TrainingOptions.onlineEMBatchSize, .sgd: TrainingOptions.sgdBatchSize][algorithm] ?? TrainingOptions().batchSize
        if algorithm == .sgd {
            options.adamBeta1 = TrainingOptions.sgdAdamBeta1
            options.groupRateMultipliers = TrainingOptions.sgdGroupRateMultipliers
        }
        options.initialisation = self.`init`?.initialisation
            ?? [Algorithm.sgd: .kmeansPCA, .em: .kmeansPlusPlus, .onlineEM: .kmeansPCA][algorithm]!
        options.emIterationsBeforeSGD = self.`init`?.emIterations ?? 0
        options.kmeansIterations = kmeansIterations ?? (algorithm == .onlineEM ? 10 : 5)
        options.kmeansSampleSize = kmeansSample ?? (algorithm == .onlineEM ? 20_000 : 10_000)
        if algorithm == .onlineEM, optimiser.epochs == nil { options.epochs = 22 }  // README: 14, 17, 20, 22 measured
        // EM's name for the most epochs; for the other algorithms it follows --epochs (so that a
        // checkpoint compares the same value however the epochs were given).
        options.maxIterations = algorithm == .em ? maxIterations ?? optimiser.epochs ?? 100 : options.epochs
        options.onlineEMExponent = stepExponent ?? 0.5
        options.onlineEMDelay = stepDelay ?? 1
        options.noise = noise
        options.reinitialiseDead = reinitDead
        return options
    }

    /// The options for data of `rows` samples: online EM's default batch is 5,000 rows, or a
    /// tenth of the data when that is smaller (at least 500), so that an epoch takes ten steps or
    /// more (on 6,000 rows at signal-to-noise 10⁸, 14 epochs of 5,000-row batches ended 16 nats
    /// short of the truth, of 600-row batches within 0.2).
    func options(rows: Int) -> TrainingOptions {
        var options = self.options
        if algorithm == .onlineEM, optimiser.batchSizeOption == nil { options.batchSize = min(TrainingOptions.onlineEMBatchSize, max(500, rows / 10)) }
        // SGD's larger batch only where an epoch still takes 100 steps or more: on 600 to 20,000
        // rows an outside review found 512 behind 256 after 20 epochs (half the steps).
        if algorithm == .sgd, optimiser.batchSizeOption == nil {
            options.batchSize = min(TrainingOptions.sgdBatchSize, max(TrainingOptions().batchSize, rows / 100))
        }
        return options
    }

    /// How the model was trained, for its file.
    func record(data: String, rows: Int) -> TrainingRecord {
        TrainingRecord(algorithm: algorithm.rawValue, options: options(rows: rows), backend: backendOptions.backend.rawValue, data: data)
    }

    func validate() throws {
        if maxIterations != nil, algorithm != .em {
            throw ValidationError("--max-iterations is EM's name for --epochs; with --algorithm \(algorithm.rawValue) give --epochs")
        }
        if maxIterations != nil, optimiser.epochs != nil, maxIterations != optimiser.epochs {
            throw ValidationError("--max-iterations is EM's name for --epochs: give one of them")
        }
        if let maxIterations, maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1") }
        if let kmeansIterations, kmeansIterations < 0 { throw ValidationError("--kmeans-iterations must not be negative") }
        if let kmeansSample, kmeansSample < 1 { throw ValidationError("--kmeans-sample must be at least 1") }
        if let stepExponent, !(stepExponent > 0 && stepExponent <= 1) { throw ValidationError("--step-exponent must lie in (0, 1] (got \(stepExponent))") }
        if let stepDelay, !(stepDelay >= 0 && stepDelay.isFinite) { throw ValidationError("--step-delay must be a finite number ≥ 0 (got \(stepDelay))") }
        // An option of another algorithm would be ignored: say so instead.
        let sgdOnly = [("--learning-rate", optimiser.learningRate != nil), ("--optimizer", optimiser.optimizer != nil),
                       ("--reinit-dead", reinitDead), ("--init em:N", (self.`init`?.emIterations ?? 0) > 0)]
        for (name, given) in sgdOnly where given && algorithm != .sgd {
            throw ValidationError("\(name) applies to --algorithm sgd, not \(algorithm.rawValue)")
        }
        for (name, given) in [("--step-exponent", stepExponent != nil), ("--step-delay", stepDelay != nil)] where given && algorithm != .onlineEM {
            throw ValidationError("\(name) applies to --algorithm online-em, not \(algorithm.rawValue)")
        }
    }

    /// Trains one (K, l) with the chosen algorithm; each restart's failure is said on stderr, and
    /// where a tolerance is in force (EM's default, or --tolerance) whether training converged.
    func train<S: SampleSource>(_ x: S, components: Int, latent: Int, validation: (any SampleSource)?, from start: MixtureModel?,
               control: TrainingControl = TrainingControl(), on backend: some Backend,
               progress: (EpochReport) -> Void) throws -> (model: MixtureModel, best: FinishedRestart) {
        let failed = { (restart: Int, error: MFAError) in printError("restart \(restart + 1) failed: \(error)") }
        let options = self.options(rows: x.rows)
        let (model, best): (MixtureModel, FinishedRestart)
        switch algorithm {
        case .sgd:
            let outcome = try SGDTrainer(backend: backend, options: options)
                .run(x, components: components, latent: latent, validation: validation, from: start, control: control,
                     progress: progress, failed: failed)
            (model, best) = (try outcome.result.covarianceModel(), outcome.best)
        case .onlineEM:
            let outcome = try OnlineEMTrainer(backend: backend, options: options)
                .run(x, components: components, latent: latent, validation: validation, from: start, control: control,
                     progress: progress, failed: failed)
            (model, best) = (outcome.result, outcome.best)
        case .em:
            let outcome = try EMTrainer(backend: backend, options: options)
                .run(x, components: components, latent: latent, validation: validation, from: start, control: control,
                     progress: progress, failed: failed)
            (model, best) = (outcome.result, outcome.best)
        }
        let tolerance = algorithm == .em ? options.tolerance ?? TrainingOptions.defaultEMTolerance : options.tolerance
        if let tolerance {
            if best.converged {
                printError("converged after \(best.epochs) epochs (tolerance \(tolerance))")
            } else {
                printError("warning: did not converge in \(best.epochs) epochs (tolerance \(tolerance)); the model is the last iterate")
            }
        }
        return (model, best)
    }
}
