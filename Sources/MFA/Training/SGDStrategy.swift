import Foundation

/// Mini-batch SGD in the precision form (DESIGN.md §1–2) as a strategy of `TrainingLoop`: per
/// batch, forward and backward on the backend, an optimizer step, then the M_k projection. θ and
/// the optimizer moments stay on the device.
public final class SGDStrategy<B: Backend>: TrainingStrategy {
    public typealias Result = PrecisionParameters
    public let engine: MixtureEngine<B>
    public let options: TrainingOptions
    public let totalSteps: Int
    public private(set) var stepCount = 0
    public var learningRateFactor: Float = 1
    public var shufflesRows: Bool { true }
    public var backsOff: Bool { true }
    public func undoesWorse(epoch: Int) -> Bool { true }
    public var logLikelihoodCeiling: Double { options.logLikelihoodCeiling(dimension: engine.shape.dimension) }
    public let projection: ProjectionOptions
    /// How many of the start's M_k eigenvalues loading raised to τ.
    public let clippedAtStart: Int
    let firstMoment: B.Buffer
    let secondMoment: B.Buffer?
    /// The batch's gradient as `accumulate` gathers it, for `update`.
    private var gradient = BatchGradient<B>()
    /// The start and the data, for re-seeding dead components (`options.reinitialiseDead`).
    let start: PrecisionParameters
    let data: any SampleSource

    /// Standardises by `data`'s moments (see `MixtureEngine`) and loads `start`, projected.
    /// `moments` are `Standardisation.trainingMoments(data).moments`, when the caller has them already (one pass fewer).
    public init<S: SampleSource>(backend: B, start: PrecisionParameters, data: S, options: TrainingOptions, totalSteps: Int,
                                 moments: ColumnMoments? = nil) throws {
        let moments = try moments ?? Standardisation.trainingMoments(data).moments
        try Standardisation.requireModelFits(variance: moments.variance)
        let scale = Standardisation.scale(variance: moments.variance)
        engine = try MixtureEngine(backend: backend, shape: start.shape, capacity: min(options.batchSize, data.rows),
                                   origin: moments.mean.map(Float.init), scale: Float(scale))
        self.options = options
        self.totalSteps = totalSteps
        self.start = start
        self.data = data
        projection = Standardisation.projectionOptions(variance: moments.variance, scale: scale, options: options)
        firstMoment = try backend.makeBuffer(count: engine.layout.count)
        secondMoment = options.optimizer == .adam ? try backend.makeBuffer(count: engine.layout.count) : nil
        clippedAtStart = try engine.load(start, options: projection)
    }

    public func beginEpoch(_ epoch: Int) throws {}

    public func beginBatch(_ batch: BatchShare) throws {
        stepCount += 1
        gradient.begin(batch, shape: engine.shape)
    }

    /// The pass; its log-likelihood stays on the device (`settle` reads it), so that a step on a
    /// whole batch reads nothing back.
    public func accumulate() throws -> Double {
        try engine.forward()
        try engine.tallyBatch()
        try gradient.add(engine)
        return 0
    }

    public func update(reducer: any Reducer) throws -> Int {
        try gradient.finishSums(engine, reducer: reducer)
        try engine.step(optimizerUpdate(), projection: projection, firstMoment: firstMoment, secondMoment: secondMoment)
        return 0
    }

    public func settle() throws -> (logLikelihood: Double, clipped: Double) {
        (try engine.drainLogLikelihood(), try engine.drainClipped())
    }

    /// One step on the batch in the engine (`accumulate`, `update`, then `settle`): the batch's
    /// summed log-likelihood before the step, and how many eigenvalues the projection clipped.
    @discardableResult
    public func step() throws -> (logLikelihood: Double, clipped: Double) {
        try beginBatch(BatchShare(rows: engine.rows, whole: true))
        _ = try accumulate()
        _ = try update(reducer: SingleProcess())
        return try settle()
    }

    /// Re-seeds dead components after each epoch of the first half, with a generator of its own
    /// (from the seed and the epoch), so that the shuffles' stream stays replayable on resume.
    public func endEpoch(_ epoch: Int, reducer: any Reducer) throws -> Int {
        guard options.reinitialiseDead, 2 * epoch <= options.epochs else { return 0 }
        var random = RandomGenerator(seed: options.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        let (next, reseeded) = try DeadComponents.reseed(try engine.precisionParameters(), engine: engine, data: data,
                                                         start: start, random: &random)
        if reseeded > 0 { try engine.load(next, options: projection) }
        return reseeded
    }

    func optimizerUpdate() -> OptimizerUpdate {
        let rate = options.learningRate * learningRateFactor * options.scheduleFactor(step: stepCount, total: totalSteps)
        let rates = options.groupRates(rate, dimension: engine.shape.dimension)
        let segments = engine.layout.groups.map { ($0.range, rates[$0.group]!) }
        switch options.optimizer {
        case .adam:
            return OptimizerUpdate(rule: .adam(beta1: options.adamBeta1, beta2: options.adamBeta2,
                                               epsilon: options.adamEpsilon, step: stepCount), segments: segments)
        case .sgd:
            return OptimizerUpdate(rule: .momentum(options.momentum), segments: segments)
        }
    }

    // MARK: State

    /// θ, the moments and λ as the device holds them (standardised units), the step and the rate factor.
    public func save() throws -> StrategyState {
        let count = engine.layout.count
        var floats = ["theta": try engine.read(engine.parameters, count: count),
                      "first_moment": try engine.read(firstMoment, count: count),
                      "eigenvalues": try engine.readEigenvalues(), "learning_rate_factor": [learningRateFactor]]
        if let secondMoment { floats["second_moment"] = try engine.read(secondMoment, count: count) }
        return StrategyState(floats: floats, integers: ["step": stepCount])
    }

    /// Puts a saved state on the device exactly: θ, the moments and λ as saved (no new projection,
    /// which could move θ by rounding), then the derived component quantities.
    public func restore(_ state: StrategyState) throws {
        let (theta, first, eigenvalues) = (try state.floats("theta"), try state.floats("first_moment"), try state.floats("eigenvalues"))
        let second = state.floats["second_moment"]
        guard theta.count == engine.layout.count, first.count == theta.count, eigenvalues.count == engine.componentLayout.eigenvalues.count,
              (second == nil) == (secondMoment == nil), second.map({ $0.count == theta.count }) ?? true else {
            throw MFAError.shapeMismatch("the saved SGD state does not fit a model of \(engine.shape) with this optimizer")
        }
        let backend = engine.backend
        try theta.withUnsafeBufferPointer { try backend.write($0, to: engine.parameters, offset: 0) }
        try first.withUnsafeBufferPointer { try backend.write($0, to: firstMoment, offset: 0) }
        if let secondMoment, let second { try second.withUnsafeBufferPointer { try backend.write($0, to: secondMoment, offset: 0) } }
        try eigenvalues.withUnsafeBufferPointer {
            try backend.write($0, to: engine.components, offset: engine.componentLayout.eigenvalues.lowerBound)
        }
        try backend.prepareComponents(engine.parameters, components: engine.components, shape: engine.shape)
        try engine.resetTallies()
        stepCount = try state.integer("step")
        learningRateFactor = state.floats["learning_rate_factor"]?.first ?? 1
    }

    public func meanLogLikelihood(_ data: any SampleSource) throws -> Double { try engine.meanLogLikelihood(data) }

    public func result() throws -> PrecisionParameters { try engine.precisionParameters() }

    public func encode(_ result: PrecisionParameters) -> StrategyState {
        StrategyState(floats: ["weights": result.weights, "means": result.means, "precision_diag": result.precisionDiagonal,
                               "precision_loadings": result.precisionLoadings])
    }

    public func decode(_ state: StrategyState) throws -> PrecisionParameters {
        let result = PrecisionParameters(shape: engine.shape, weights: try state.floats("weights"), means: try state.floats("means"),
                                         precisionDiagonal: try state.floats("precision_diag"),
                                         precisionLoadings: try state.floats("precision_loadings"))
        let (k, d, l) = (engine.shape.components, engine.shape.dimension, engine.shape.latent)
        guard result.weights.count == k, result.means.count == k * d, result.precisionDiagonal.count == k * d,
              result.precisionLoadings.count == k * d * l else {
            throw MFAError.shapeMismatch("the saved model does not fit \(engine.shape)")
        }
        return result
    }
}
