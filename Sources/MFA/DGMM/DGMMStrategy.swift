import Foundation

/// A DGMM trained by gradient descent on its exact marginal (DESIGN.md §3), as a strategy of
/// `TrainingLoop`: every step composes the paths into an MFA, runs the engine's forward and
/// backward passes over the batch, and chains the path gradients back to all layers at once
/// (`PathGradient`, `PathTerms.backward`). The layers are small and live on the host in float64;
/// the batch work is the backend's. Units are standardised (x' = (x − origin)/s) inside; the
/// result is in the data's units.
///
/// The last `exactEpochs` epochs are exact EM iterations instead (`DGMMMaximisation`): one pass
/// of EM sums under the current layers, then the M-step of every layer at once. Gradient steps
/// find the basin (with annealing); EM, whose steps follow the curvature, converges in it where
/// Adam's steps stall at a high signal-to-noise ratio.
public final class DGMMStrategy<B: Backend>: TrainingStrategy {
    public typealias Result = DGMMModel
    public let engine: MixtureEngine<B>
    public let shape: DGMMShape
    public private(set) var parameters: [DGMMLayerParameters]
    let options: TrainingOptions
    let annealing: Annealing
    /// Training's coordinates in the data's, and the variance floors there.
    let units: DGMMUnits
    /// The gradient steps (annealing and the learning-rate schedule span them; exact EM epochs follow).
    let totalSteps: Int
    let exactEpochs: Int
    /// Whether converged EM epochs try realigning layer 1's components (`Realignment`).
    let realigns: Bool
    var firstMoment: [DGMMLayerParameters]
    var secondMoment: [DGMMLayerParameters]
    public private(set) var stepCount = 0
    public var learningRateFactor: Float = 1
    public var shufflesRows: Bool { true }
    public var backsOff: Bool { true }
    /// Every path's covariance is at least layer 1's Ψ ≥ σ²_min (`TrainingOptions.logLikelihoodCeiling`).
    public var logLikelihoodCeiling: Double { options.logLikelihoodCeiling(dimension: shape.dimension) }
    /// Rows (training's units, gathered once: a paged source is not read out of order later) on
    /// which float32 passes are checked against float64 (`skipsEM`, `meanLogLikelihood`), and
    /// what the run is told when EM epochs are skipped.
    let precisionRows: (any SampleSource)?
    let note: (String) -> Void
    /// Set at the end of the gradient epochs when float32 passes are not precise enough for EM's
    /// sums: the restart ends there (`isFinished`). An outside review's data (columns 1–10⁴ apart,
    /// noise 10⁻⁴ of the signal) lost up to 16 nats per sample in float32 EM epochs.
    private(set) var skipsEM = false
    public var isFinished: Bool { skipsEM }

    /// The gradient epochs of a run without annealing (a warm start's default): there, full-rate
    /// steps walk away from the model (`dgmm train --from` a fit lost 48 nats per sample). An
    /// annealed run starts far below where it ends and is left alone, without a probe pass per
    /// epoch (judged against its last epoch instead of its start, undoing its epochs once T
    /// reached 1 lowered the wide-range data's median path ARI from 0.879 to 0.787, README).
    /// Exact EM epochs never lower the likelihood.
    public func undoesWorse(epoch: Int) -> Bool {
        annealing.temperature(step: 1, total: totalSteps) <= 1 && epoch <= options.epochs - exactEpochs
    }
    /// Time in the engine's batch passes (forward, tempering, backward); the rest is host work.
    public private(set) var engineSeconds = 0.0
    /// The paths as loaded for the batch in progress, and its gradient as `accumulate` gathers it.
    private var terms: [PathTerms]?
    private var gradient = BatchGradient<B>()
    /// True in an exact EM epoch: the pass's sums, and the path mixture they are taken under.
    private(set) var polishing = false
    private var pass: EMStatistics
    /// The exact EM pass's log-likelihood so far (this process's rows).
    private var passLogLikelihood = 0.0
    /// Realignment proposals between converged EM epochs (`GroupAlignment`).
    private(set) var realignment = Realignment()
    /// How many realignments this run kept, of how many it tried.
    public var realignments: (kept: Int, tried: Int) { (realignment.kept, realignment.tried) }
    private var passModel: (mixture: MixtureModel, canonical: PrecisionParameters, eigenvalues: [Float])?

    init(engine: MixtureEngine<B>, shape: DGMMShape, parameters: [DGMMLayerParameters], options: TrainingOptions,
         annealing: Annealing, units: DGMMUnits, totalSteps: Int, exactEpochs: Int = 0, realigns: Bool = true,
         precisionRows: (any SampleSource)? = nil, note: @escaping (String) -> Void = { _ in }) {
        self.engine = engine
        self.shape = shape
        self.parameters = parameters
        self.options = options
        self.annealing = annealing
        self.units = units
        self.totalSteps = totalSteps
        self.exactEpochs = exactEpochs
        self.realigns = realigns
        self.precisionRows = precisionRows
        self.note = note
        pass = EMStatistics(shape: engine.shape)
        firstMoment = DGMMLayerParameters.zeros(shape)
        secondMoment = firstMoment
    }

    /// Puts the current layers into the engine as their path mixture; returns the engine.
    @discardableResult
    func loadParameters() throws -> MixtureEngine<B> {
        try load(parameters.pathTerms(shape))
        return engine
    }

    func load(_ terms: [PathTerms]) throws {
        _ = try engine.loadCanonical(try mixture(terms), standardised: true)
    }

    /// The layers' path mixture. Layers that steps have made non-finite are a numerical fault of
    /// training (which the loop rolls back or undoes), not bad input.
    private func mixture(_ terms: [PathTerms]) throws -> MixtureModel {
        do {
            return try parameters.pathMixture(shape, terms: terms)
        } catch MFAError.nonFiniteInput(let message) {
            throw MFAError.numerical("the layers' path mixture is not finite (\(message))" + precisionHint)
        } catch MFAError.numerical(let message) {
            throw MFAError.numerical(message + precisionHint)
        }
    }

    /// Where the passes are float32, layers that lost definiteness most likely lost it to their sums.
    private var precisionHint: String {
        engine.backend.keepsDoubles ? "" : " (float32 passes lose such layers to round-off on data of a wide range: try --precision float64)"
    }

    /// An exact EM epoch sums its whole pass under one model, loaded here (the layers change at
    /// its end only), as `EMStrategy` does.
    public func beginEpoch(_ epoch: Int) throws {
        polishing = epoch > options.epochs - exactEpochs
        pass = EMStatistics(shape: engine.shape)
        passLogLikelihood = 0
        if polishing { try loadPass() }
    }

    /// The layers' path mixture into the engine, kept with what the EM M-step needs.
    private func loadPass() throws {
        let paths = parameters.pathTerms(shape)
        let mixture = try mixture(paths)
        let (canonical, eigenvalues) = try engine.loadCanonical(mixture, standardised: true)
        (terms, passModel) = (paths, (mixture, canonical, eigenvalues))
    }

    /// Composes the current layers into the engine's path mixture for the batch.
    public func beginBatch(_ batch: BatchShare) throws {
        stepCount += 1
        guard !polishing else { return }
        let paths = parameters.pathTerms(shape)
        try load(paths)
        terms = paths
        gradient.begin(batch, shape: engine.shape)
    }

    /// The pass's log-likelihood; its annealed gradient in the paths' precision form is gathered.
    public func accumulate() throws -> Double {
        let began = ContinuousClock.now
        defer { engineSeconds += seconds(ContinuousClock.now - began) }
        try engine.forward()
        let logLikelihood = try engine.readLogDensity().reduce(0, +) - Double(engine.rows) * units.logJacobian
        guard logLikelihood.isFinite else { return logLikelihood }
        let temperature = annealing.temperature(step: stepCount, total: totalSteps)
        if temperature > 1 { try engine.temperResponsibilities(temperature) }
        if polishing {
            pass.count += engine.rows
            passLogLikelihood += logLikelihood
            try engine.accumulate(into: &pass)
        } else {
            try gradient.add(engine)
        }
        return logLikelihood
    }

    /// The batch's path gradient (its sums added up across processes), chained to every layer.
    public func update(reducer: any Reducer) throws -> Int {
        guard !polishing else { return 0 }
        guard let terms else { throw MFAError.invalidArgument("update before accumulate") }
        let theta = try engine.read(try gradient.finish(engine, reducer: reducer), count: engine.layout.count)
        try update(try gradient(theta, terms: terms))
        return 0
    }

    /// In an exact EM epoch: the M-step of every layer from the pass's sums (added up across processes).
    public func endEpoch(_ epoch: Int, reducer: any Reducer) throws -> Int {
        if epoch == options.epochs - exactEpochs, exactEpochs > 0 { try checkPrecisionForEM(reducer: reducer) }
        guard polishing, let passModel, let terms else { return 0 }
        if reducer.processes > 1 { try pass.sum(with: reducer) }
        let statistics = try OnlineEMStatistics(batch: pass, rows: max(pass.count, 1), model: passModel.mixture,
                                                canonical: passModel.canonical, eigenvalues: passModel.eigenvalues)
        var maximisation = DGMMMaximisation(shape: shape)
        try maximisation.add(statistics, terms: terms)
        let next = try maximisation.maximise(parameters, floor: units.logFloor, rows: pass.count)
        var total = [passLogLikelihood]
        if reducer.processes > 1 { try reducer.sum(&total) }
        let action = realigns ? realignment.decide(logLikelihood: total[0] / Double(max(pass.count, 1)),
                                                   remaining: options.epochs - epoch, components: shape.components[0], next: next)
                              : .maximise
        switch action {
        case .maximise, .keep:
            parameters = next
        case .restore(let layers):
            parameters = layers
        case .propose(let reference):
            let alignment = try GroupAlignment(shape: shape, statistics: statistics, terms: terms, rows: pass.count)
            if let layers = alignment.aligned(parameters, reference: reference) {
                parameters = layers
            } else {
                realignment.withdraw()
                parameters = next
            }
        }
        return 0
    }

    /// The gradient of −mean log p over the batch with respect to every layer, from the engine's
    /// gradient `theta` of the same loss in the paths' precision form; `terms` are the paths as loaded.
    func gradient(_ thetaGradient: [Float], terms paths: [PathTerms]) throws -> [DGMMLayerParameters] {
        let (d, l) = (shape.dimension, shape.latent[0])
        let layout = engine.layout
        let theta = try engine.read(engine.parameters, count: layout.count)
        var gradient = DGMMLayerParameters.zeros(shape)
        for (path, terms) in paths.enumerated() {
            let vector = path * d, block = path * l * d
            let chain = try PathGradient(
                logPrecision: theta[(layout.logPrecision.lowerBound + vector)...].prefix(d),
                loadingsT: theta[(layout.loadings.lowerBound + block)...].prefix(l * d),
                logPrecisionGradient: thetaGradient[(layout.logPrecision.lowerBound + vector)...].prefix(d),
                loadingsTGradient: thetaGradient[(layout.loadings.lowerBound + block)...].prefix(l * d),
                lambda: terms.loadings(0), inner: terms.inner[1], dimension: d, latent: l)
            terms.backward(meanGradient: thetaGradient[(layout.means.lowerBound + vector)...].prefix(d).map(Double.init),
                           logNoiseGradient: chain.logNoise, loadingGradient: chain.loading,
                           innerGradient: chain.inner, into: &gradient)
            // log π_path = Σ_i log softmax(logits_i)[g_i]: the path's logit gradient goes to each choice.
            let logitGradient = Double(thetaGradient[layout.logits.lowerBound + path])
            for (i, g) in terms.choices.enumerated() { gradient[i].logits[g] += logitGradient }
        }
        return gradient
    }

    /// Adam (or momentum SGD) on every layer at the scheduled rate, through `OptimizerStep`
    /// like the backends' update, then the variance floor.
    func update(_ gradient: [DGMMLayerParameters]) throws {
        let rate = Double(options.learningRate * learningRateFactor * options.scheduleFactor(step: stepCount, total: totalSteps))
        let groups: [ParameterGroup] = [.logits, .means, .loadings, .logPrecision]
        let (beta1, beta2) = (Double(options.adamBeta1), Double(options.adamBeta2))
        let corrections = (1 / (1 - Foundation.pow(beta1, Double(stepCount))), 1 / (1 - Foundation.pow(beta2, Double(stepCount))))
        for i in parameters.indices {
            for (field, group) in zip(DGMMLayerParameters.fields, groups) {
                var g = gradient[i][keyPath: field]
                guard g.allSatisfy(\.isFinite) else { throw MFAError.diverged("non-finite gradient at step \(stepCount)") }
                let groupRate = rate * Double(options.groupRateMultipliers[group] ?? 1)
                let count = g.count
                g.withUnsafeMutableBufferPointer { g in
                    parameters[i][keyPath: field].withUnsafeMutableBufferPointer { x in
                        firstMoment[i][keyPath: field].withUnsafeMutableBufferPointer { m in
                            secondMoment[i][keyPath: field].withUnsafeMutableBufferPointer { v in
                                switch options.optimizer {
                                case .adam:
                                    OptimizerStep.adam(x.baseAddress!, gradient: g.baseAddress!, first: m.baseAddress!,
                                                       second: v.baseAddress!, count: count, rate: groupRate, beta1: beta1,
                                                       beta2: beta2, epsilon: Double(options.adamEpsilon),
                                                       inverseCorrection1: corrections.0, inverseCorrection2: corrections.1)
                                case .sgd:
                                    OptimizerStep.momentum(x.baseAddress!, gradient: g.baseAddress!, velocity: m.baseAddress!,
                                                           count: count, rate: groupRate, momentum: Double(options.momentum))
                                }
                            }
                        }
                    }
                }
            }
            for p in parameters[i].logNoise.indices { parameters[i].logNoise[p] = max(parameters[i].logNoise[p], units.logFloor(layer: i, index: p)) }
        }
    }

    // MARK: State

    /// An exact EM epoch's pass sums so far ("pass.").
    public var partialSums: [String] { ["pass."] }

    /// The layers and both moments (float64, exact), the step and the rate factor; in an exact EM
    /// epoch, its pass's sums so far.
    public func save() throws -> StrategyState {
        var state = StrategyState(floats: ["learning_rate_factor": [learningRateFactor]],
                                  integers: ["step": stepCount, "polishing": polishing ? 1 : 0, "skips_em": skipsEM ? 1 : 0])
        for (prefix, layers) in [("", parameters), ("first.", firstMoment), ("second.", secondMoment)] {
            DGMMLayerParameters.save(layers, into: &state, prefix: prefix)
        }
        realignment.save(into: &state)
        if polishing {
            pass.save(into: &state, prefix: "pass")
            state.doubles["pass.log_likelihood"] = [passLogLikelihood]
        }
        return state
    }

    public func restore(_ state: StrategyState) throws {
        func layers(_ prefix: String) throws -> [DGMMLayerParameters] { try DGMMLayerParameters.restore(shape, from: state, prefix: prefix) }
        (parameters, firstMoment, secondMoment) = (try layers(""), try layers("first."), try layers("second."))
        stepCount = try state.integer("step")
        learningRateFactor = state.floats["learning_rate_factor"]?.first ?? 1
        polishing = state.integers["polishing"] == 1
        skipsEM = state.integers["skips_em"] == 1
        realignment = try Realignment(state, shape: shape)
        pass = EMStatistics(shape: engine.shape)
        passLogLikelihood = state.doubles["pass.log_likelihood"]?.first ?? 0
        if polishing {  // resumed inside an EM epoch, perhaps after its last batch: its model again
            try pass.restore(from: state, prefix: "pass")
            try loadPass()
        }
    }

    /// In the data's units (`data` in training's). Where float32 passes fail the float64 check
    /// (`PrecisionCheck`), exactly, on the host: restarts are chosen and reported by it.
    public func meanLogLikelihood(_ data: any SampleSource) throws -> Double {
        if let (model, check) = try float32Check(), !check.passes {
            let exact = try PreciseLogDensity(model).logDensities(data, rows: Array(0..<data.rows))
            return exact.reduce(0, +) / Double(max(data.rows, 1)) - units.logJacobian
        }
        return try loadParameters().meanLogLikelihood(data) - units.logJacobian
    }

    /// The current path mixture, and its float32 passes checked against float64 on
    /// `precisionRows`; nil where the passes are float64.
    private func float32Check() throws -> (model: MixtureModel, check: PrecisionCheck)? {
        guard !engine.backend.keepsDoubles, let precisionRows else { return nil }
        let model = try mixture(parameters.pathTerms(shape))
        return (model, try PrecisionCheck(model, data: precisionRows, backend: engine.backend))
    }

    /// After the last gradient epoch, in float32: skip the EM epochs where the engine's
    /// log-likelihoods of the model are off from float64's, since EM's sums then are too.
    private func checkPrecisionForEM(reducer: any Reducer) throws {
        guard let (_, check) = try float32Check() else { return }
        var fails = [check.passes ? 0.0 : 1]
        if reducer.processes > 1 { try reducer.maximum(&fails) }  // every rank decides alike
        guard fails[0] > 0 else { return }
        skipsEM = true
        note(String(format: "float32 is not precise enough for exact EM epochs on these data (after the gradient epochs, the log-likelihoods of %d rows were up to %.3g nats off float64's): this restart ends before its %d EM epochs; --precision float64 runs them",
                    check.rows, check.maximum, exactEpochs))
    }

    /// In the data's units, carried there in float64.
    public func result() throws -> DGMMModel {
        try parameters.transformed(shape, origin: units.origin, scale: units.deviation).model(shape)
    }

    public func encode(_ result: DGMMModel) -> StrategyState {
        var floats = [String: [Float]]()
        for (i, layer) in result.layers.enumerated() {
            floats["layers.\(i + 1).weights"] = layer.weights
            floats["layers.\(i + 1).means"] = layer.means
            floats["layers.\(i + 1).loadings"] = layer.loadings
            floats["layers.\(i + 1).noise_variances"] = layer.noiseVariances
        }
        return StrategyState(floats: floats)
    }

    public func decode(_ state: StrategyState) throws -> DGMMModel {
        try DGMMModel(shape: shape, layers: (1...shape.layers).map { i in
            DGMMLayer(weights: try state.floats("layers.\(i).weights"), means: try state.floats("layers.\(i).means"),
                      loadings: try state.floats("layers.\(i).loadings"), noiseVariances: try state.floats("layers.\(i).noise_variances"))
        })
    }
}

