import Foundation

/// Stochastic-approximation (online) EM for MFA as a strategy of `TrainingLoop` (Cappé & Moulines
/// 2009; mini-batch form in Nguyen, Forbes & McLachlan 2020): after every batch, the running
/// average of the expected complete-data statistics moves towards the batch's,
/// s ← (1 − ρ_t) s + ρ_t ŝ_batch with ρ_t = (t + t₀)^(−κ) (ρ = 1 for the first batch), and an
/// M-step follows. In the exponential family this is a natural-gradient step (Sato 2001): its
/// size follows the curvature, where Adam's does not. The batch sums are those of `EMStrategy`.
///
/// The last epoch of a run of several is one exact batch EM iteration (`polishing`), the ECM step
/// of `EMMaximisation` on the whole pass's sums under the final model. The stochastic steps'
/// statistics come from models that moved during the window they average; one exact step removes
/// that lag (README: +1.2 nats on Fashion-MNIST after 8 epochs, where a joint-EM step gave +0.3).
public final class OnlineEMStrategy<B: Backend>: TrainingStrategy {
    public typealias Result = MixtureModel
    public let engine: MixtureEngine<B>
    public private(set) var model: MixtureModel
    public private(set) var stepCount = 0
    public var learningRateFactor: Float { get { 1 } set {} }
    public var shufflesRows: Bool { true }
    public var backsOff: Bool { false }
    let options: TrainingOptions
    let data: any SampleSource
    /// The running average, in the model's latent basis; nil before the first batch.
    var statistics: OnlineEMStatistics?
    /// The batch in progress and the model it was scored under, canonical (M_k = diag(λ)).
    var batch: EMStatistics
    var canonical: PrecisionParameters
    var eigenvalues: [Float]
    /// Components whose M-step needed a ridge, over the run (reported as `clipped`).
    public private(set) var regularised = 0
    /// True in the final epoch: sum the whole pass, one M-step at its end.
    var polishing = false
    /// Rows in the global batch in progress (over every process).
    var batchRows = 0

    public init<S: SampleSource>(backend: B, start: MixtureModel, data: S, options: TrainingOptions,
                                 moments: ColumnMoments? = nil) throws {
        engine = try .forEM(backend: backend, shape: start.shape, data: data, batchSize: options.batchSize, moments: moments)
        model = start
        self.options = options
        self.data = data
        batch = EMStatistics(shape: start.shape)
        (canonical, eigenvalues) = (try start.precisionParameters(), [])
        try loadModel()
    }

    /// Puts the model into the engine, made canonical.
    func loadModel() throws {
        (canonical, eigenvalues) = try engine.loadCanonical(model)
    }

    /// ρ_t for the update after `updates` earlier ones.
    func stepSize(after updates: Int) -> Double {
        updates == 0 ? 1 : Foundation.pow(Double(updates) + options.onlineEMDelay, -options.onlineEMExponent)
    }

    public func beginEpoch(_ epoch: Int) throws {
        polishing = epoch == options.epochs && epoch > 1
        batch = EMStatistics(shape: model.shape)
    }

    /// A new batch's sums start empty, except in the polishing epoch, which sums the whole pass.
    public func beginBatch(_ batch: BatchShare) throws {
        stepCount += 1
        batchRows = batch.rows
        if !polishing { self.batch = EMStatistics(shape: model.shape) }
    }

    public func accumulate() throws -> Double {
        try engine.forward()
        let logLikelihood = try engine.readLogDensity().reduce(0, +)
        batch.count += engine.rows
        try engine.accumulate(into: &batch)
        return logLikelihood
    }

    /// ρ_t scaled by the batch's share of a full one (a last batch of one row moves the
    /// averages by 1/B of a full step); ρ = 1 when one batch holds all the data, which makes
    /// every epoch an exact EM step.
    public func update(reducer: any Reducer) throws -> Int {
        guard !polishing else { return 0 }
        let full = min(options.batchSize, data.rows)
        let share = Double(batchRows) / Double(full)
        let rate = full >= data.rows ? 1 : min(1, stepSize(after: stepCount - 1) * (stepCount == 1 ? 1 : share))
        return try step(reducer: reducer, rate: rate)
    }

    /// The exact ECM step on the polishing pass's sums.
    public func endEpoch(_ epoch: Int, reducer: any Reducer) throws -> Int {
        guard polishing else { return 0 }
        if reducer.processes > 1 { try batch.sum(with: reducer) }
        model = try EMMaximisation(shape: model.shape, origin: engine.origin.map(Double.init), minVariance: options.minVariance,
                                   noise: options.noise).maximise(batch, current: model, canonical: canonical, eigenvalues: eigenvalues)
        statistics = nil  // the running averages belong to the models before this step
        try loadModel()
        return 0
    }

    /// Blends the sums in `batch` into the running statistics at `rate`, then the M-step.
    func step(reducer: any Reducer, rate: Double) throws -> Int {
        if reducer.processes > 1 { try batch.sum(with: reducer) }
        let estimate = try OnlineEMStatistics(batch: batch, rows: batchRows, model: model, canonical: canonical,
                                              eigenvalues: eigenvalues)
        // In place: a copy of the running sums (K·l·d doubles) per batch cost more than the blend.
        if statistics == nil { statistics = estimate } else { statistics!.blend(estimate, rate: rate) }
        let (next, ridged) = try statistics!.maximise(current: model, origin: engine.origin.map(Double.init),
                                                  minVariance: options.minVariance, noise: options.noise, rows: batchRows)
        model = next
        regularised += ridged
        try loadModel()
        return ridged
    }

    // MARK: State

    /// The polishing pass's sums ("pass."); the running averages ("statistics.") are every process's alike.
    public var partialSums: [String] { ["pass."] }

    public func save() throws -> StrategyState {
        var state = encode(model)
        if let statistics {
            for (name, field) in zip(OnlineEMStatistics.names, OnlineEMStatistics.fields) {
                state.doubles["statistics.\(name)"] = statistics[keyPath: field]
            }
        }
        state.integers = ["step": stepCount, "regularised": regularised, "polishing": polishing ? 1 : 0]
        if polishing { batch.save(into: &state, prefix: "pass") }
        return state
    }

    public func restore(_ state: StrategyState) throws {
        model = try decode(state)
        statistics = nil
        if state.doubles["statistics.weights"] != nil {
            var restored = OnlineEMStatistics(shape: model.shape)
            for (name, field) in zip(OnlineEMStatistics.names, OnlineEMStatistics.fields) {
                let values = try state.doubles("statistics.\(name)")
                guard values.count == restored[keyPath: field].count else {
                    throw MFAError.shapeMismatch("the saved online-EM statistics do not fit a model of \(model.shape)")
                }
                restored[keyPath: field] = values
            }
            statistics = restored
        }
        stepCount = try state.integer("step")
        regularised = state.integers["regularised"] ?? 0
        polishing = state.integers["polishing"] == 1
        batch = EMStatistics(shape: model.shape)
        if polishing { try batch.restore(from: state, prefix: "pass") }
        try loadModel()
    }

    public func meanLogLikelihood(_ data: any SampleSource) throws -> Double {
        try model.engine(backend: engine.backend, batchSize: engine.capacity).meanLogLikelihood(data)
    }

    public func result() throws -> MixtureModel { model }

    public func encode(_ result: MixtureModel) -> StrategyState { result.state }

    public func decode(_ state: StrategyState) throws -> MixtureModel { try MixtureModel(state: state, shape: model.shape) }
}
