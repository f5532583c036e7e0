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
    /// Dead components re-seeded after this epoch (`TrainingOptions.reinitialiseDead`).
    public var reseeded = 0
    /// Times this epoch was rolled back after a non-finite loss, and the learning-rate factor now.
    public var rollbacks = 0
    public var learningRateFactor: Float = 1
}

/// Trains a mixture of factor analysers by mini-batch SGD in the precision form (DESIGN.md §1–2):
/// for every batch, forward and backward on the backend, an optimizer step, then the M_k projection.
public struct SGDTrainer<B: Backend> {
    public let backend: B
    public let options: TrainingOptions
    /// Roll-backs after non-finite losses before training gives up.
    public static var maximumRollbacks: Int { 5 }

    public init(backend: B, options: TrainingOptions) {
        self.backend = backend
        self.options = options
    }

    /// Trains on `data` (N × d) and returns the model in the data's own units. With `from`, training
    /// continues from that model instead of initialising (a warm start).
    public func train<S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)? = nil,
                                       from: MixtureModel? = nil,
                      control: TrainingControl = TrainingControl(),
                      progress: (EpochReport) -> Void = { _ in }) throws -> PrecisionParameters {
        var random = RandomGenerator(seed: options.seed)
        var start = try Initialiser.start(data, components: components, latent: latent, validation: validation, from: from,
                                          options: options, backend: backend, random: &random)
        if options.emIterationsBeforeSGD > 0, from == nil, control.resume == nil {
            // `--init em:N`: a few EM iterations put SGD in EM's basin.
            let em = try EMSession(backend: backend, start: try start.covarianceModel(), data: data,
                                   batchSize: options.batchSize, minVariance: options.minVariance, noise: options.noise)
            for _ in 0..<options.emIterationsBeforeSGD { try em.iterate() }
            start = try em.model.precisionParameters()
        }
        let batchSize = min(options.batchSize, data.rows)
        let batchesPerEpoch = (data.rows + batchSize - 1) / batchSize
        let session = try SGDSession(backend: backend, start: start, data: data, options: options,
                                     totalSteps: batchesPerEpoch * options.epochs)
        // Every epoch's shuffle comes from the state the loop starts with, so a resumed run replays
        // the shuffles of the epochs before its own and sees the same batches.
        // In-memory data: one permutation, reshuffled in place every epoch. Paged data: blocks in
        // random order, rows in random order within each, each block released once it is used.
        var order = Array(0..<data.rows), blockEnds = [data.rows], blocks = [0..<data.rows]
        func nextOrder() {
            if data.blockRows == nil { order.shuffle(using: &random) } else { (order, blockEnds, blocks) = data.epochOrder(random: &random) }
        }
        var firstEpoch = 1, (skippedBatches, resumedSum, resumedClipped) = (0, 0.0, 0)
        if let checkpoint = control.resume {
            try session.restore(checkpoint, rows: data.rows)
            random = try RandomGenerator(state: checkpoint.loopRandomState)
            for _ in 1..<checkpoint.epoch { nextOrder() }
            (firstEpoch, skippedBatches) = (checkpoint.epoch, checkpoint.batch)
            (resumedSum, resumedClipped) = (checkpoint.logLikelihoodSum, checkpoint.clipped)
        }
        let loopRandomState = control.resume?.loopRandomState ?? random.state
        let clock = ContinuousClock()
        let began = clock.now
        var rollbacks = 0
        for epoch in firstEpoch...options.epochs {
            let epochBegan = clock.now
            nextOrder()
            let startBatch = epoch == firstEpoch ? skippedBatches : 0
            // The last good state: a non-finite loss rolls the epoch back to it at half the rate.
            let snapshot = try session.checkpoint(epoch: epoch, batch: startBatch, loopRandomState: loopRandomState,
                                                  logLikelihoodSum: epoch == firstEpoch ? resumedSum : 0,
                                                  clipped: epoch == firstEpoch ? resumedClipped : 0, rows: data.rows)
            var epochRollbacks = 0
            var logLikelihoodSum = 0.0, clipped = 0, trainedRows = 0
            epochLoop: while true {
                (logLikelihoodSum, clipped, trainedRows) = (snapshot.logLikelihoodSum, snapshot.clipped, 0)
                var nextBlock = 0
            for (batch, batchStart) in stride(from: 0, to: data.rows, by: batchSize).enumerated() where batch >= startBatch {
                let batchEnd = min(batchStart + batchSize, data.rows)
                try session.engine.loadBatch(data, rows: order[batchStart..<batchEnd])
                while nextBlock < blockEnds.count, blockEnds[nextBlock] <= batchEnd {
                    data.release(blocks[nextBlock])
                    nextBlock += 1
                }
                // A non-finite loss, or a step whose projection met non-finite parameters, is a fault.
                var result = (logLikelihood: Double.nan, clipped: 0)
                do { result = try session.step() } catch MFAError.numerical(_) {}
                guard result.logLikelihood.isFinite else {
                    rollbacks += 1
                    epochRollbacks += 1
                    guard rollbacks <= Self.maximumRollbacks else {
                        throw MFAError.diverged(
                            "non-finite log-likelihood at epoch \(epoch), step \(session.stepCount), after \(Self.maximumRollbacks) roll-backs that each halved the learning rate; try a smaller --learning-rate")
                    }
                    try session.restore(snapshot, rows: data.rows)
                    session.learningRateFactor /= 2
                    continue epochLoop
                }
                logLikelihoodSum += result.logLikelihood
                clipped += result.clipped
                trainedRows += session.engine.rows
                let stopping = control.shouldStop()
                if let save = control.save,
                   stopping || control.checkpointEvery.map({ session.stepCount % $0 == 0 }) == true {
                    try save(try session.checkpoint(epoch: epoch, batch: batch + 1, loopRandomState: loopRandomState,
                                                    logLikelihoodSum: logLikelihoodSum, clipped: clipped, rows: data.rows))
                }
                if stopping {
                    throw MFAError.interrupted(control.save == nil
                        ? "stopped at step \(session.stepCount) with no checkpoint (give --checkpoint FILE to keep the work)"
                        : "stopped at step \(session.stepCount); the checkpoint holds it (continue with --resume)")
                }
            }
                break epochLoop
            }
            let trainSeconds = seconds(clock.now - epochBegan)
            var reseeded = 0
            if options.reinitialiseDead, 2 * epoch <= options.epochs {
                let next: PrecisionParameters
                // Its own generator, from the seed and the epoch: the shuffles' stream stays replayable on resume.
                var reseedRandom = RandomGenerator(seed: options.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
                (next, reseeded) = try DeadComponents.reseed(try session.engine.precisionParameters(), engine: session.engine,
                                                             data: data, start: start, random: &reseedRandom)
                if reseeded > 0 { try session.engine.load(next, options: session.projection) }
            }
            let validationLogLikelihood = try validation.map { try session.engine.meanLogLikelihood($0) }
            let elapsed = seconds(clock.now - began)
            progress(EpochReport(
                epoch: epoch, epochs: options.epochs, trainLogLikelihood: logLikelihoodSum / Double(data.rows),
                validationLogLikelihood: validationLogLikelihood,
                samplesPerSecond: Double(trainedRows) / max(trainSeconds, 1e-9), elapsedSeconds: elapsed,
                remainingSeconds: elapsed / Double(epoch) * Double(options.epochs - epoch),
                clippedFraction: Double(clipped) / Double(max(batchesPerEpoch * components * latent, 1)),
                reseeded: reseeded, rollbacks: epochRollbacks, learningRateFactor: session.learningRateFactor))
        }
        return try session.engine.precisionParameters()
    }
}

/// The state of one SGD run on a backend: the engine (θ and workspaces), the optimizer moments,
/// the step count, and the settings that every step applies.
public final class SGDSession<B: Backend> {
    public let engine: MixtureEngine<B>
    public let options: TrainingOptions
    public let totalSteps: Int
    public private(set) var stepCount = 0
    /// Multiplies every learning rate; halved by each roll-back after a non-finite loss.
    public var learningRateFactor: Float = 1
    let firstMoment: B.Buffer
    let secondMoment: B.Buffer?
    public let projection: ProjectionOptions

    /// Standardises by `data`'s moments (see `MixtureEngine`) and loads `start`, projected.
    public init<S: SampleSource>(backend: B, start: PrecisionParameters, data: S, options: TrainingOptions, totalSteps: Int) throws {
        let moments = try data.columnMoments()
        let scale = Self.standardScale(variance: moments.variance)
        engine = try MixtureEngine(backend: backend, shape: start.shape, capacity: min(options.batchSize, data.rows),
                                   origin: moments.mean.map(Float.init), scale: Float(scale))
        self.options = options
        self.totalSteps = totalSteps
        projection = Self.projectionOptions(variance: moments.variance, scale: scale, options: options)
        firstMoment = try backend.makeBuffer(count: engine.layout.count)
        secondMoment = options.optimizer == .adam ? try backend.makeBuffer(count: engine.layout.count) : nil
        try engine.load(start, options: projection)
    }

    /// The run's state, read back from the device.
    func checkpoint(epoch: Int, batch: Int, loopRandomState: [UInt64], logLikelihoodSum: Double, clipped: Int,
                    rows: Int) throws -> Checkpoint {
        let count = engine.layout.count
        return Checkpoint(shape: engine.shape, theta: try engine.read(engine.parameters, count: count),
                          firstMoment: try engine.read(firstMoment, count: count),
                          secondMoment: try secondMoment.map { try engine.read($0, count: count) } ?? [],
                          eigenvalues: try engine.readEigenvalues(), step: stepCount, epoch: epoch, batch: batch,
                          loopRandomState: loopRandomState, logLikelihoodSum: logLikelihoodSum, clipped: clipped,
                          rows: rows, scale: engine.scale, epochs: options.epochs, batchSize: options.batchSize)
            .with(learningRateFactor: learningRateFactor)
    }

    /// Puts a checkpoint's state on the device exactly: θ, the moments and λ as saved (no new
    /// projection, which could move θ by rounding), then the derived component quantities.
    func restore(_ checkpoint: Checkpoint, rows: Int) throws {
        guard checkpoint.shape == engine.shape, checkpoint.rows == rows, checkpoint.scale == engine.scale,
              checkpoint.epochs == options.epochs, checkpoint.batchSize == options.batchSize,
              checkpoint.theta.count == engine.layout.count,
              checkpoint.secondMoment.isEmpty == (secondMoment == nil) else {
            throw MFAError.invalidArgument(
                "the checkpoint was made for another run (\(checkpoint.shape), \(checkpoint.rows) samples, \(checkpoint.epochs) epochs, batch \(checkpoint.batchSize)); resume with the same data and options")
        }
        let backend = engine.backend
        try checkpoint.theta.withUnsafeBufferPointer { try backend.write($0, to: engine.parameters, offset: 0) }
        try checkpoint.firstMoment.withUnsafeBufferPointer { try backend.write($0, to: firstMoment, offset: 0) }
        if let secondMoment {
            try checkpoint.secondMoment.withUnsafeBufferPointer { try backend.write($0, to: secondMoment, offset: 0) }
        }
        try checkpoint.eigenvalues.withUnsafeBufferPointer {
            try backend.write($0, to: engine.components, offset: engine.componentLayout.eigenvalues.lowerBound)
        }
        try backend.prepareComponents(engine.parameters, components: engine.components, shape: engine.shape)
        stepCount = checkpoint.step
        learningRateFactor = checkpoint.learningRateFactor
    }

    /// One step on the batch in the engine: returns the batch's summed log-likelihood (before the
    /// step) and how many eigenvalues the projection clipped.
    @discardableResult
    public func step() throws -> (logLikelihood: Double, clipped: Int) {
        stepCount += 1
        try engine.forward()
        let logLikelihood = try engine.readLogDensity().reduce(0, +)
        let gradient = try engine.backward()
        try engine.backend.applyUpdate(update(), parameters: engine.parameters, gradient: gradient,
                                       firstMoment: firstMoment, secondMoment: secondMoment)
        let clipped = try engine.refresh(options: projection, firstMoment: firstMoment, secondMoment: secondMoment)
        return (logLikelihood, clipped)
    }

    func update() -> OptimizerUpdate {
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

    /// s = √(mean variance): one scalar, so that the learning rates do not depend on the data's units.
    static func standardScale(variance: [Double]) -> Double {
        let meanVariance = variance.reduce(0, +) / Double(max(variance.count, 1))
        return meanVariance > 0 ? meanVariance.squareRoot() : 1
    }

    /// τ, and a' = log(s² e) ∈ [log(s²/(100·max variance)), log(s²/σ²_min)]: the upper bound is the
    /// variance floor; the lower one only keeps e away from zero.
    static func projectionOptions(variance: [Double], scale: Double, options: TrainingOptions) -> ProjectionOptions {
        let largest = max(variance.max() ?? 1, options.minVariance)
        let logSquaredScale = 2 * Foundation.log(scale)
        return ProjectionOptions(
            eigenvalueFloor: options.eigenvalueFloor,
            logPrecisionRange: Float(logSquaredScale - Foundation.log(100 * largest))...Float(logSquaredScale - Foundation.log(options.minVariance)),
            noise: options.noise)
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
