import Foundation

/// One line of progress, reported after every epoch.
public struct EpochReport: Sendable {
    public var epoch: Int
    public var epochs: Int
    /// Mean log-likelihood per sample over the epoch's batches (as they were trained).
    public var trainLogLikelihood: Double
    /// Mean log-likelihood per sample on the validation data, if given.
    public var validationLogLikelihood: Double?
    public var samplesPerSecond: Double
    public var elapsedSeconds: Double
    public var remainingSeconds: Double
    /// Fraction of M_k eigenvalues the projection clipped to τ, over the epoch's steps.
    public var clippedFraction: Double
}

/// Trains a mixture of factor analysers by mini-batch SGD in the precision form (DESIGN.md §1–2):
/// forward and backward on the backend, an optimizer step, then the M_k projection, every batch.
public struct SGDTrainer<B: Backend> {
    public let backend: B
    public let options: TrainingOptions

    public init(backend: B, options: TrainingOptions) {
        self.backend = backend
        self.options = options
    }

    /// Trains on `data` (N × d) and returns the model in the data's own units.
    public func train(_ data: Matrix, components: Int, latent: Int, validation: Matrix? = nil,
                      progress: (EpochReport) -> Void = { _ in }) throws -> PrecisionParameters {
        try options.validate()
        let shape = try MixtureShape(components: components, dimension: data.columns, latent: latent)
        guard data.rows >= components else {
            throw MFAError.invalidArgument("cannot fit \(components) components to \(data.rows) samples")
        }
        if let validation, validation.columns != data.columns {
            throw MFAError.shapeMismatch("validation data have \(validation.columns) columns, training data \(data.columns)")
        }
        var random = RandomGenerator(seed: options.seed)
        let start = try Initialiser.initialise(data, shape: shape, options: options, backend: backend, random: &random)
        let moments = data.columnMoments()
        let scale = standardScale(variance: moments.variance)
        let engine = try MixtureEngine(backend: backend, shape: shape, capacity: min(options.batchSize, data.rows),
                                       origin: moments.mean.map(Float.init), scale: Float(scale))
        let projection = projectionOptions(variance: moments.variance, scale: scale)
        let layout = engine.layout
        let first = try backend.makeBuffer(count: layout.count)
        let second = options.optimizer == .adam ? try backend.makeBuffer(count: layout.count) : nil
        try engine.load(start, options: projection)

        let batchesPerEpoch = (data.rows + engine.capacity - 1) / engine.capacity
        let totalSteps = batchesPerEpoch * options.epochs
        var step = 0
        var order = Array(0..<data.rows)
        let clock = ContinuousClock()
        let began = clock.now
        for epoch in 1...options.epochs {
            let epochBegan = clock.now
            order.shuffle(using: &random)
            var logLikelihoodSum = 0.0
            var clipped = 0
            for batchStart in stride(from: 0, to: data.rows, by: engine.capacity) {
                step += 1
                try engine.loadBatch(data, rows: order[batchStart..<min(batchStart + engine.capacity, data.rows)])
                try engine.forward()
                let batchSum = try engine.readLogDensity().reduce(0, +)
                guard batchSum.isFinite else {
                    throw MFAError.diverged("non-finite log-likelihood at epoch \(epoch), step \(step); try a smaller --learning-rate")
                }
                logLikelihoodSum += batchSum
                let gradient = try engine.backward()
                try backend.applyUpdate(update(step: step, total: totalSteps, layout: layout), parameters: engine.parameters,
                                        gradient: gradient, firstMoment: first, secondMoment: second)
                clipped += try engine.refresh(options: projection, firstMoment: first, secondMoment: second)
            }
            let trainSeconds = seconds(clock.now - epochBegan)
            let validationLogLikelihood = try validation.map { try engine.meanLogLikelihood($0) }
            let elapsed = seconds(clock.now - began)
            progress(EpochReport(
                epoch: epoch, epochs: options.epochs, trainLogLikelihood: logLikelihoodSum / Double(data.rows),
                validationLogLikelihood: validationLogLikelihood,
                samplesPerSecond: Double(data.rows) / max(trainSeconds, 1e-9), elapsedSeconds: elapsed,
                remainingSeconds: elapsed / Double(epoch) * Double(options.epochs - epoch),
                clippedFraction: Double(clipped) / Double(max(batchesPerEpoch * components * latent, 1))))
        }
        return try engine.precisionParameters()
    }

    /// s = √(mean variance): one scalar, so that the learning rates do not depend on the data's units.
    func standardScale(variance: [Double]) -> Double {
        let meanVariance = variance.reduce(0, +) / Double(max(variance.count, 1))
        return meanVariance > 0 ? meanVariance.squareRoot() : 1
    }

    /// τ, and a' = log(s² e) ∈ [log(s²/(100·max variance)), log(s²/σ²_min)]: the upper bound is the
    /// variance floor; the lower one only keeps e away from zero.
    func projectionOptions(variance: [Double], scale: Double) -> ProjectionOptions {
        let largest = max(variance.max() ?? 1, options.minVariance)
        let logSquaredScale = 2 * Foundation.log(scale)
        return ProjectionOptions(
            eigenvalueFloor: options.eigenvalueFloor,
            logPrecisionRange: Float(logSquaredScale - Foundation.log(100 * largest))...Float(logSquaredScale - Foundation.log(options.minVariance)))
    }

    func update(step: Int, total: Int, layout: ParameterLayout) -> OptimizerUpdate {
        let rate = options.learningRate * options.scheduleFactor(step: step, total: total)
        let rates = options.groupRates(rate, dimension: layout.shape.dimension)
        let segments = layout.groups.map { ($0.range, rates[$0.group]!) }
        switch options.optimizer {
        case .adam:
            return OptimizerUpdate(rule: .adam(beta1: options.adamBeta1, beta2: options.adamBeta2,
                                               epsilon: options.adamEpsilon, step: step), segments: segments)
        case .sgd:
            return OptimizerUpdate(rule: .momentum(options.momentum), segments: segments)
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
