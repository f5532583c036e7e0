import ArgumentParser
import Foundation
import MFA
import MFAIO

extension TrainingOptions.Optimizer: ExpressibleByArgument {}

/// How `train` learns.
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

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a mixture of factor analysers by mini-batch SGD in the precision form.",
        discussion: """
            DATA is a .npy (float32/float64/integer; uint8 pixels are scaled to [0,1]), an IDX file \
            (MNIST/Fashion-MNIST, gzipped or not) or a numeric CSV file, one sample per row. \
            The model is written atomically as safetensors in covariance form (weights, means, \
            loadings, noise_variances) plus the precision form, in the data's own units.
            """)

    @Argument(help: "Training data file.")
    var data: String

    @Option(name: [.short, .long], help: "K, the number of mixture components.")
    var components: Int

    @Option(name: [.short, .long], help: "l, the latent dimension of each factor analyser (0 ≤ l < d; 0 is a diagonal GMM).")
    var latent: Int

    @Option(name: [.short, .long], help: "Where to write the model (.safetensors).")
    var out: String

    @Option(help: "Passes over the training data.")
    var epochs = 20

    @Option(help: "Samples per mini-batch.")
    var batchSize = 256

    @Option(help: "Base learning rate: for the means, in units of the data's standard deviation (mixing logits train at 0.3×, log-precisions at 0.9×, loadings at 0.75/√d×).")
    var learningRate: Float = 0.1

    @Option(help: "sgd (mini-batch SGD in the precision form) or em (expectation–maximisation, covariance form, mini-batch statistics).")
    var algorithm: Algorithm = .sgd

    @Option(help: "adam or sgd (heavy-ball momentum 0.9), for --algorithm sgd.")
    var optimizer: TrainingOptions.Optimizer = .adam

    @Option(help: "random (means at random samples), kmeans++ (k-means++ and 5 Lloyd iterations on ≤10,000 samples) or em:N (kmeans++, then N EM iterations, then SGD). Default: random for sgd, kmeans++ for em.")
    var `init`: InitChoice?

    @Option(help: "EM: the most iterations.")
    var maxIterations = 100

    @Option(help: "EM: stop when the mean log-likelihood per sample changes by less than this.")
    var tolerance = 1e-3

    @Option(help: "Seed for initialisation and shuffling; the same seed gives the same model.")
    var seed: UInt64 = 0

    @Option(help: "Continue training this model (a warm start) instead of initialising; its K, l and d must match.")
    var from: String?

    @Option(help: "Validation data, scored after every epoch.")
    var validation: String?

    @Option(help: "Variance floor σ²_min in the data's units: no component variance falls below it.")
    var minVariance: Double = 1e-3

    @Option(help: "Image shape HxW of each sample, for sample grids (default: from the data file, or a square d).")
    var shape: String?

    @OptionGroup var backendOptions: BackendOptions

    func validate() throws {
        if components < 1 { throw ValidationError("--components must be at least 1") }
        if latent < 0 { throw ValidationError("--latent must be at least 0") }
        if let shape, ImageShape(shape) == nil { throw ValidationError("--shape must look like 28x28") }
    }

    func run() throws {
        let dataset = try loadData(data)
        let validationSet = try validation.map { try loadData($0, dimension: dataset.samples.columns) }
        let start = try from.map { try ModelFile.read($0).model }
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.learningRate = learningRate
        options.optimizer = optimizer
        options.initialisation = self.`init`?.initialisation ?? (algorithm == .em ? .kmeansPlusPlus : .random)
        options.emIterationsBeforeSGD = self.`init`?.emIterations ?? 0
        options.maxIterations = maxIterations
        options.tolerance = tolerance
        options.seed = seed
        options.minVariance = minVariance
        let x = dataset.samples
        say("training K=\(components) l=\(latent) on \(x.rows) samples of d=\(x.columns) (\(data))")
        var last: EpochReport?
        let model = try train(x, validation: validationSet?.samples, from: start, options: options,
                              on: try backendOptions.make()) { report in
            last = report
            var line = String(format: "%@ %d/%d  train %.2f", algorithm == .em ? "iteration" : "epoch", report.epoch,
                              report.epochs, report.trainLogLikelihood)
            if let v = report.validationLogLikelihood { line += String(format: "  validation %.2f", v) }
            line += String(format: "  %.0f samples/s", report.samplesPerSecond)
            if algorithm == .sgd { line += String(format: "  clipped %.1f%%", 100 * report.clippedFraction) }
            line += "  ETA \(clockText(report.remainingSeconds))"
            say(line)
            
        }
        var metadata = options.metadata
        metadata["training.algorithm"] = algorithm.rawValue
        if let from { metadata["training.from"] = from }
        if algorithm == .em {
            metadata["training.max_iterations"] = String(maxIterations)
            metadata["training.tolerance"] = String(tolerance)
        }
        metadata["training.data"] = data
        metadata["training.seconds"] = String(format: "%.1f", last?.elapsedSeconds ?? 0)
        if let v = last?.validationLogLikelihood { metadata["validation_log_likelihood"] = String(v) }
        if let image = shape.flatMap(ImageShape.init) ?? dataset.imageShape { metadata["image_shape"] = image.description }
        metadata["training.backend"] = backendOptions.backend.rawValue
        try ModelFile.write(model, metadata: metadata, to: out)
        say("wrote \(out) (\(model.shape), \(model.shape.freeParameterCount) free parameters) in \(clockText(last?.elapsedSeconds ?? 0))")
    }

    func train(_ x: Matrix, validation: Matrix?, from start: MixtureModel?, options: TrainingOptions,
               on backend: some Backend, progress: (EpochReport) -> Void) throws -> MixtureModel {
        switch algorithm {
        case .sgd:
            return try SGDTrainer(backend: backend, options: options)
                .train(x, components: components, latent: latent, validation: validation, from: start, progress: progress)
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
