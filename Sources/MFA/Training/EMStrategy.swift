import Foundation

/// Expectation–maximisation for MFA (Ghahramani & Hinton) in the covariance form as a strategy of
/// `TrainingLoop`: an epoch is one EM iteration. The E-step is the batched forward pass; each
/// batch adds its GEMM-shaped sums to `EMStatistics`; the M-step (`EMMaximisation`) runs at the
/// epoch's end on the sums of the whole pass. Data are only streamed, never held whole.
public final class EMStrategy<B: Backend>: TrainingStrategy {
    public typealias Result = MixtureModel
    public let engine: MixtureEngine<B>
    public private(set) var model: MixtureModel
    public private(set) var stepCount = 0
    public var learningRateFactor: Float { get { 1 } set {} }
    public var shufflesRows: Bool { false }
    public var backsOff: Bool { false }
    let data: any SampleSource
    let batchSize: Int
    let minVariance: Double
    let noise: NoiseStructure
    /// The pass in progress: its sums, and the model it scores in its canonical basis (M_k = diag(λ)).
    var statistics: EMStatistics
    var canonical: PrecisionParameters
    var eigenvalues: [Float]

    public init<S: SampleSource>(backend: B, start: MixtureModel, data: S, batchSize: Int, minVariance: Double,
                                 noise: NoiseStructure = .diagonal, moments: ColumnMoments? = nil) throws {
        engine = try .forEM(backend: backend, shape: start.shape, data: data, batchSize: batchSize, moments: moments)
        model = start
        self.data = data
        self.batchSize = batchSize
        self.minVariance = minVariance
        self.noise = noise
        statistics = EMStatistics(shape: start.shape)
        (canonical, eigenvalues) = (try start.precisionParameters(), [])
        try prepare()
    }

    /// Puts the model into the engine, made canonical, and starts empty sums.
    public func beginEpoch(_ epoch: Int) throws { try prepare() }

    func prepare() throws {
        (canonical, eigenvalues) = try engine.loadCanonical(model)
        statistics = EMStatistics(shape: model.shape)
    }

    public func beginBatch(_ batch: BatchShare) throws { stepCount += 1 }

    public func accumulate() throws -> Double {
        try engine.forward()
        let logLikelihood = try engine.readLogDensity().reduce(0, +)
        try engine.accumulate(into: &statistics)
        return logLikelihood
    }

    public func update(reducer: any Reducer) throws -> Int { 0 }

    /// The M-step, on the pass's sums added up across processes.
    public func endEpoch(_ epoch: Int, reducer: any Reducer) throws -> Int {
        if reducer.processes > 1 { try statistics.sum(with: reducer) }
        model = try EMMaximisation(shape: model.shape, origin: engine.origin.map(Double.init), minVariance: minVariance,
                                   noise: noise).maximise(statistics, current: model, canonical: canonical,
                                                          eigenvalues: eigenvalues)
        return 0
    }

    /// One whole iteration outside the loop (`--init em:N`, tests): the E-step pass over the data in
    /// file order, then the M-step. Returns the mean log-likelihood of the model before the update.
    @discardableResult
    public func iterate() throws -> Double {
        try prepare()
        var total = 0.0
        for start in stride(from: 0, to: data.rows, by: engine.capacity) {
            let rows = start..<min(start + engine.capacity, data.rows)
            try engine.loadBatch(data, rows: rows)
            data.release(rows)
            try beginBatch(BatchShare(rows: rows.count, whole: true))
            total += try accumulate()
        }
        guard total.isFinite else { throw MFAError.diverged("non-finite log-likelihood in the E-step") }
        _ = try endEpoch(0, reducer: SingleProcess())
        return total / Double(data.rows)
    }

    // MARK: State

    /// The model the pass scores, and the sums gathered so far (float64, exact).
    public var partialSums: [String] { ["statistics."] }

    public func save() throws -> StrategyState {
        var state = encode(model)
        state.integers = ["step": stepCount]
        statistics.save(into: &state, prefix: "statistics")
        return state
    }

    public func restore(_ state: StrategyState) throws {
        model = try decode(state)
        try prepare()
        try statistics.restore(from: state, prefix: "statistics")
        stepCount = try state.integer("step")
    }

    public func meanLogLikelihood(_ data: any SampleSource) throws -> Double {
        try model.engine(backend: engine.backend, batchSize: batchSize).meanLogLikelihood(data)
    }

    public func result() throws -> MixtureModel { model }

    public func encode(_ result: MixtureModel) -> StrategyState { result.state }

    public func decode(_ state: StrategyState) throws -> MixtureModel { try MixtureModel(state: state, shape: model.shape) }
}
