/// The entry points of MFA training: each builds its strategy for `TrainingLoop` and names the
/// run for checkpoints. All else is the loop's.
public struct SGDTrainer<B: Backend> {
    public let backend: B
    public let options: TrainingOptions

    public init(backend: B, options: TrainingOptions) {
        self.backend = backend
        self.options = options
    }

    /// Trains on `data` (N × d) and returns the best restart's parameters, in the data's units.
    /// With `from`, training continues from that model (a warm start, one restart).
    public func train<S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)? = nil,
                                       from: MixtureModel? = nil, control: TrainingControl = TrainingControl(),
                                       progress: (EpochReport) -> Void = { _ in },
                                       failed: (Int, MFAError) -> Void = { _, _ in }) throws -> PrecisionParameters {
        try run(data, components: components, latent: latent, validation: validation, from: from, control: control,
                progress: progress, failed: failed).result
    }

    public func run<S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)? = nil,
                                     from: MixtureModel? = nil, control: TrainingControl = TrainingControl(),
                                     progress: (EpochReport) -> Void = { _ in },
                                     failed: (Int, MFAError) -> Void = { _, _ in }) throws -> TrainingOutcome<PrecisionParameters> {
        let batches = (data.rows + min(options.batchSize, data.rows) - 1) / max(min(options.batchSize, data.rows), 1)
        return try MixtureRun(backend: backend, options: options, algorithm: "sgd", epochs: options.epochs, tolerance: options.tolerance)
            .run(data, components: components, latent: latent, validation: validation, from: from, control: control,
                 progress: progress, failed: failed) { start, moments in
                // The k-means + PCA start, with its factors' signal-to-noise ratios at most half
                // of what τ allows (1/τ − 1), so that none starts clipped.
                var start = try from == nil && start.isCovariance
                    ? start.covarianceModel().cappingSignalToNoise(at: 0.5 * (1 / options.eigenvalueFloor - 1)).model.precisionParameters()
                    : start.precisionParameters()
                if options.emIterationsBeforeSGD > 0, from == nil {
                    // `em:N` initialisation: a few EM iterations put SGD in EM's basin.
                    let em = try EMStrategy(backend: backend, start: try start.covarianceModel(), data: data,
                                            batchSize: options.batchSize, minVariance: options.minVariance, noise: options.noise,
                                            moments: moments)
                    for _ in 0..<options.emIterationsBeforeSGD { try em.iterate() }
                    start = try em.model.precisionParameters()
                }
                let strategy = try SGDStrategy(backend: backend, start: start, data: data, options: options,
                                               totalSteps: batches * options.epochs, moments: moments)
                // Loading projected M_k onto τ: a warm start with factors beyond it has lost some
                // likelihood before the first step, which no later check sees.
                if from != nil, control.resume == nil, strategy.clippedAtStart > 0 {
                    control.note("the starting model has \(strategy.clippedAtStart) factor(s) whose signal-to-noise ratio exceeds 1/τ = \(Int((1 / options.eigenvalueFloor).rounded())) (M_k's eigenvalue floor τ in SGD's precision form): SGD cuts them to it before its first step, which lowers the model's likelihood; online EM and EM keep them")
                }
                return strategy
            }
    }
}

/// EM for MFA (`EMStrategy`): an epoch is an iteration; it stops at `options.tolerance` (default
/// `TrainingOptions.defaultEMTolerance`) or after `options.maxIterations`.
public struct EMTrainer<B: Backend> {
    public let backend: B
    public let options: TrainingOptions

    public init(backend: B, options: TrainingOptions) {
        self.backend = backend
        self.options = options
    }

    /// The model, and whether EM converged (`iterations` overrides `options.maxIterations`).
    public func train<S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)? = nil,
                                       from: MixtureModel? = nil, iterations: Int? = nil,
                                       control: TrainingControl = TrainingControl(),
                                       progress: (EpochReport) -> Void = { _ in }) throws -> (model: MixtureModel, converged: Bool) {
        let outcome = try run(data, components: components, latent: latent, validation: validation, from: from,
                              iterations: iterations, control: control, progress: progress)
        return (outcome.result, outcome.best.converged)
    }

    public func run<S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)? = nil,
                                     from: MixtureModel? = nil, iterations: Int? = nil,
                                     control: TrainingControl = TrainingControl(),
                                     progress: (EpochReport) -> Void = { _ in },
                                     failed: (Int, MFAError) -> Void = { _, _ in }) throws -> TrainingOutcome<MixtureModel> {
        try MixtureRun(backend: backend, options: options, algorithm: "em", epochs: iterations ?? options.maxIterations,
                       tolerance: options.tolerance ?? TrainingOptions.defaultEMTolerance)
            .run(data, components: components, latent: latent, validation: validation, from: from, control: control,
                 progress: progress, failed: failed) { start, moments in
                try EMStrategy(backend: backend, start: try start.covarianceModel(), data: data, batchSize: options.batchSize,
                               minVariance: options.minVariance, noise: options.noise, moments: moments)
            }
    }
}

/// Online (stochastic-approximation) EM for MFA (`OnlineEMStrategy`): an M-step after every batch
/// on running averages of the statistics; `options.epochs` passes at most, `options.tolerance` to stop.
public struct OnlineEMTrainer<B: Backend> {
    public let backend: B
    public let options: TrainingOptions

    public init(backend: B, options: TrainingOptions) {
        self.backend = backend
        self.options = options
    }

    public func run<S: SampleSource>(_ data: S, components: Int, latent: Int, validation: (any SampleSource)? = nil,
                                     from: MixtureModel? = nil, control: TrainingControl = TrainingControl(),
                                     progress: (EpochReport) -> Void = { _ in },
                                     failed: (Int, MFAError) -> Void = { _, _ in }) throws -> TrainingOutcome<MixtureModel> {
        try MixtureRun(backend: backend, options: options, algorithm: "online-em", epochs: options.epochs, tolerance: options.tolerance)
            .run(data, components: components, latent: latent, validation: validation, from: from, control: control,
                 progress: progress, failed: failed) { start, moments in
                try OnlineEMStrategy(backend: backend, start: try start.covarianceModel(), data: data, options: options,
                                     moments: moments)
            }
    }
}

/// What SGD and EM share: the checks, the start (initialised or warm), the run's identity.
struct MixtureRun<B: Backend> {
    let backend: B
    let options: TrainingOptions
    let algorithm: String
    let epochs: Int
    let tolerance: Double?

    func run<S: SampleSource, T: TrainingStrategy>(
        _ data: S, components: Int, latent: Int, validation: (any SampleSource)?, from: MixtureModel?,
        control: TrainingControl, progress: (EpochReport) -> Void, failed: (Int, MFAError) -> Void,
        strategy: (StartingModel, ColumnMoments) throws -> T
    ) throws -> TrainingOutcome<T.Result> {
        try options.validate()
        if from != nil, options.restarts != 1 { throw MFAError.invalidArgument("a warm start is one run: restarts must be 1") }
        // Two passes for the data's moments (less gross outliers), shared by every restart's start and strategy.
        let (moments, outliers, farthest) = try Standardisation.trainingMoments(data)
        if let note = Standardisation.outlierNote(outliers, farthest: farthest) { control.note(note) }
        if let note = Standardisation.storageNote(moments) { control.note(note) }
        var settings = options.settings
        settings["components"] = String(components)
        settings["latent"] = String(latent)
        settings["epochs"] = String(epochs)
        settings["from"] = from.map { fingerprint(of: $0.weights + $0.means + $0.loadings + $0.noiseVariances) } ?? "none"
        let loop = TrainingLoop(epochs: epochs, tolerance: tolerance, restarts: options.restarts, seed: options.seed,
                                batchSize: options.batchSize, control: control)
        return try loop.run(data, validation: validation,
                            identity: RunIdentity(algorithm: algorithm, settings: settings, backend: backend.name),
                            start: { _, random in
                                let start = try Initialiser.start(data, components: components, latent: latent,
                                                                  validation: validation, from: from, options: options,
                                                                  backend: backend, moments: moments, random: &random)
                                return try strategy(start, moments)
                            }, progress: progress, failed: failed)
    }
}
