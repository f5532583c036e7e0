import Foundation

/// The best DGMM of a run and how well it fits.
public struct DGMMFit: Sendable {
    /// In the data's own units.
    public var model: DGMMModel
    /// Mean log-likelihood per training sample of the kept restart, over the whole data after training.
    public var logLikelihood: Double
    /// Which restart was kept (0-based), and every restart's final log-likelihood (nil: it failed).
    public var restart: Int
    public var restarts: [RestartSummary]
    /// Seconds of training, and the part of them in the backend's batch passes (forward,
    /// tempering, backward); the rest is host work on the layers.
    public var seconds: Double
    public var engineSeconds: Double
    /// Realignments of layer 1's components (`Realignment`) kept, and tried, over all restarts.
    public var realignments: (kept: Int, tried: Int)
}

/// The entry point of DGMM training (`DGMMStrategy` in `TrainingLoop`): random restarts drawn
/// from the data, or a warm start, in standardised units; the model comes back in the data's units.
public struct DGMMTrainer<B: Backend> {
    public let backend: B
    /// Uses epochs, batch size, learning rate and group multipliers, optimizer, Adam's constants,
    /// warm-up, seed, restarts, tolerance and the variance floor.
    public let options: TrainingOptions
    public let annealing: Annealing
    /// The last epochs that are exact EM iterations (`DGMMStrategy`), at most `options.epochs`.
    public let exactEpochs: Int
    /// Whether converged exact EM epochs try realigning layer 1's components (`Realignment`).
    public let realigns: Bool

    public init(backend: B, options: TrainingOptions, annealing: Annealing = Annealing(), exactEpochs: Int = 0,
                realigns: Bool = true) {
        self.backend = backend
        self.options = options
        self.annealing = annealing
        self.exactEpochs = exactEpochs
        self.realigns = realigns
    }

    public func train<S: SampleSource>(_ data: S, shape: DGMMShape, validation: (any SampleSource)? = nil,
                                       from: DGMMModel? = nil, control: TrainingControl = TrainingControl(),
                                       progress: (EpochReport) -> Void = { _ in },
                                       failed: (_ restart: Int, MFAError) -> Void = { _, _ in }) throws -> DGMMFit {
        try options.validate()
        try annealing.validate()
        guard (0...options.epochs).contains(exactEpochs) else {
            throw MFAError.invalidArgument("the exact EM epochs (\(exactEpochs)) must lie between 0 and the epochs (\(options.epochs))")
        }
        guard data.columns == shape.dimension else {
            throw MFAError.shapeMismatch("data have \(data.columns) columns, the DGMM has d = \(shape.dimension)")
        }
        try Initialiser.checkSizes(data, components: shape.components[0], validation: validation)
        if let from, from.shape != shape {
            throw MFAError.shapeMismatch("the starting model is \(from.shape), training asks for \(shape)")
        }
        if from != nil, options.restarts != 1 { throw MFAError.invalidArgument("a warm start is one run: restarts must be 1") }
        let (moments, outliers, farthest) = try Standardisation.trainingMoments(data)
        try Standardisation.requireModelFits(variance: moments.variance)
        if let note = Standardisation.outlierNote(outliers, farthest: farthest) { control.note(note) }
        if let note = Standardisation.storageNote(moments) { control.note(note) }
        // Every column whitened (exact for layer 1's diagonal noise); the deeper layers' floor is
        // σ²_min/s² with s² the mean variance, as in the single-scale units this replaced.
        let d = shape.dimension
        let deviation = moments.variance.map { $0 > 0 ? $0.squareRoot() : 1 }
        let scale = Standardisation.scale(variance: moments.variance)
        let units = DGMMUnits(origin: moments.mean, deviation: deviation,
                              inputLogFloor: deviation.map { Foundation.log(options.minVariance / ($0 * $0)) },
                              deeperLogFloor: Foundation.log(options.minVariance / (scale * scale)))
        let whitened = WhitenedColumns(base: data, mean: moments.mean, deviation: deviation)
        func whiten(_ source: some SampleSource) -> any SampleSource { WhitenedColumns(base: source, mean: moments.mean, deviation: deviation) }
        let whitenedValidation = validation.map { whiten($0) }
        let whitenedVariance = moments.variance.map { $0 > 0 ? 1.0 : 0 }
        let engine = try MixtureEngine(backend: backend, shape: try shape.pathShape, capacity: min(options.batchSize, data.rows),
                                       origin: [Float](repeating: 0, count: d), scale: 1)
        let loop = TrainingLoop(epochs: options.epochs, tolerance: options.tolerance, restarts: options.restarts,
                                seed: options.seed, batchSize: options.batchSize, control: control)
        let began = ContinuousClock.now
        // Annealing and the learning-rate schedule span the gradient steps only, so that they run
        // their course before the exact EM epochs whatever their number.
        let gradientSteps = (options.epochs - exactEpochs) * ((data.rows + engine.capacity - 1) / engine.capacity)
        // Float32 passes are checked against float64 on these rows (`DGMMStrategy.skipsEM`).
        let precisionRows = backend.keepsDoubles ? nil
            : try whitened.gathering(rows: Array(stride(from: 0, to: data.rows, by: max(1, data.rows / 256)).prefix(256)))
        var strategies = [DGMMStrategy<B>]()
        let outcome = try loop.run(whitened, validation: whitenedValidation, identity: identity(shape, from: from), start: { _, random in
            let start = try from.map { model in
                DGMMLayerParameters.of(model).transformed(shape, origin: (0..<d).map { -units.origin[$0] / deviation[$0] },
                                                          scale: deviation.map { 1 / $0 })
            } ?? DGMMInitialiser.random(
                shape, data: whitened, variance: whitenedVariance, units: units,
                centres: options.initialisation == .kmeansPlusPlus
                    ? try DGMMInitialiser.kmeansCentres(whitened, components: shape.components[0], options: options,
                                                        random: &random) : nil,
                random: &random)
            strategies.append(DGMMStrategy(
                engine: engine, shape: shape, parameters: start, options: options, annealing: annealing, units: units,
                totalSteps: gradientSteps, exactEpochs: exactEpochs,
                realigns: realigns, precisionRows: precisionRows, note: control.note))
            return strategies.last!
        }, progress: progress, failed: failed)
        return DGMMFit(model: outcome.result, logLikelihood: outcome.best.logLikelihood, restart: outcome.best.restart,
                       restarts: outcome.restarts, seconds: seconds(ContinuousClock.now - began),
                       engineSeconds: strategies.reduce(0) { $0 + $1.engineSeconds },
                       realignments: strategies.reduce((0, 0)) { ($0.0 + $1.realignments.kept, $0.1 + $1.realignments.tried) })
    }

    func identity(_ shape: DGMMShape, from: DGMMModel?) -> RunIdentity {
        var settings = options.settings
        settings["shape"] = "\(shape)"
        settings["temperature"] = String(annealing.initialTemperature)
        settings["anneal_fraction"] = String(annealing.fraction)
        settings["em_epochs"] = String(exactEpochs)
        settings["realign"] = String(realigns)
        settings["from"] = from.map { model in fingerprint(of: model.layers.flatMap { $0.weights + $0.means + $0.loadings + $0.noiseVariances }) } ?? "none"
        return RunIdentity(algorithm: "dgmm", settings: settings, backend: backend.name)
    }
}
