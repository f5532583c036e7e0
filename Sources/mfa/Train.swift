import ArgumentParser
import Foundation
import MFA
import MFAIO

extension TrainingOptions.Optimizer: ExpressibleByArgument {}
extension TrainingOptions.Initialisation: ExpressibleByArgument {}

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

    @Option(help: "adam or sgd (heavy-ball momentum 0.9).")
    var optimizer: TrainingOptions.Optimizer = .adam

    @Option(help: "random (means at random samples) or kmeans++ (k-means++ and 5 Lloyd iterations on ≤10,000 samples).")
    var `init`: TrainingOptions.Initialisation = .random

    @Option(help: "Seed for initialisation and shuffling; the same seed gives the same model.")
    var seed: UInt64 = 0

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
        var options = TrainingOptions()
        options.epochs = epochs
        options.batchSize = batchSize
        options.learningRate = learningRate
        options.optimizer = optimizer
        options.initialisation = self.`init`
        options.seed = seed
        options.minVariance = minVariance
        let x = dataset.samples
        say("training K=\(components) l=\(latent) on \(x.rows) samples of d=\(x.columns) (\(data))")
        var last: EpochReport?
        let parameters = try train(x, validation: validationSet?.samples, options: options,
                                   on: try backendOptions.make()) { report in
            last = report
            var line = String(format: "epoch %d/%d  train %.2f", report.epoch, report.epochs, report.trainLogLikelihood)
            if let v = report.validationLogLikelihood { line += String(format: "  validation %.2f", v) }
            line += String(format: "  %.0f samples/s  clipped %.1f%%  ETA %@", report.samplesPerSecond,
                           100 * report.clippedFraction, clockText(report.remainingSeconds))
            say(line)
            
        }
        let model = try parameters.covarianceModel()
        var metadata = options.metadata
        metadata["training.data"] = data
        metadata["training.seconds"] = String(format: "%.1f", last?.elapsedSeconds ?? 0)
        if let v = last?.validationLogLikelihood { metadata["validation_log_likelihood"] = String(v) }
        if let image = shape.flatMap(ImageShape.init) ?? dataset.imageShape { metadata["image_shape"] = image.description }
        metadata["training.backend"] = backendOptions.backend.rawValue
        try ModelFile.write(model, metadata: metadata, to: out)
        say("wrote \(out) (\(model.shape), \(model.shape.freeParameterCount) free parameters) in \(clockText(last?.elapsedSeconds ?? 0))")
    }

    func train(_ x: Matrix, validation: Matrix?, options: TrainingOptions, on backend: some Backend,
               progress: (EpochReport) -> Void) throws -> PrecisionParameters {
        try SGDTrainer(backend: backend, options: options).train(x, components: components, latent: latent,
                                                                  validation: validation, progress: progress)
    }
}
