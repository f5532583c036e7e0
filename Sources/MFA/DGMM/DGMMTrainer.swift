import Foundation

/// One trained DGMM and how well it fits.
public struct DGMMFit: Sendable {
    /// In the data's own units.
    public var model: DGMMModel
    /// Mean log-likelihood per training sample, over the whole data after training.
    public var logLikelihood: Double
    /// Which restart this is (0-based), and its seconds.
    public var restart: Int
    public var seconds: Double
    /// The part of `seconds` spent in the backend's batch passes (forward, tempering, backward);
    /// the rest is host work on the layers: composing the paths, the chain, the optimizer.
    public var engineSeconds: Double
}

/// Trains a DGMM by gradient descent on its exact marginal (DESIGN.md §3): every step composes the
/// paths into an MFA, runs the engine's forward and backward passes over the batch, and chains the
/// path gradients back to all layers at once (`PathGradient`, `PathTerms.backward`). Adam on the
/// host updates the layers, which are small; the batch work is the backend's.
///
/// Data are standardised as for MFA (x' = (x − mean)/s); the returned model is in the data's units.
public struct DGMMTrainer<B: Backend> {
    public let backend: B
    /// Uses epochs, batch size, learning rate and group multipliers, optimizer, Adam's constants,
    /// warm-up, seed and the variance floor.
    public let options: TrainingOptions
    public let annealing: Annealing

    public init(backend: B, options: TrainingOptions, annealing: Annealing = Annealing()) {
        self.backend = backend
        self.options = options
        self.annealing = annealing
    }

    /// Trains `restarts` random initialisations (seeds derived from `options.seed`) and returns
    /// them all, best training log-likelihood first. A restart that diverges is reported and left out.
    /// With `from`, the one run continues from that model (a warm start) instead.
    public func train<S: SampleSource>(_ data: S, shape: DGMMShape, restarts: Int = 1, validation: (any SampleSource)? = nil,
                                       from: DGMMModel? = nil,
                                       progress: (_ restart: Int, EpochReport) -> Void = { _, _ in },
                                       failed: (_ restart: Int, MFAError) -> Void = { _, _ in }) throws -> [DGMMFit] {
        try options.validate()
        try annealing.validate()
        guard restarts >= 1 else { throw MFAError.invalidArgument("--restarts must be at least 1 (got \(restarts))") }
        guard data.columns == shape.dimension else {
            throw MFAError.shapeMismatch("data have \(data.columns) columns, the DGMM has d = \(shape.dimension)")
        }
        try Initialiser.checkSizes(data, components: shape.components[0], validation: validation)
        if let from, from.shape != shape {
            throw MFAError.shapeMismatch("the starting model is \(from.shape), training asks for \(shape)")
        }
        if from != nil, restarts != 1 { throw MFAError.invalidArgument("a warm start is one run: --restarts must be 1") }
        let moments = try data.columnMoments()
        let scale = SGDSession<B>.standardScale(variance: moments.variance)
        let engine = try MixtureEngine(backend: backend, shape: try shape.pathShape, capacity: min(options.batchSize, data.rows),
                                       origin: moments.mean.map(Float.init), scale: Float(scale))
        let standardVariance = moments.variance.map { $0 / (scale * scale) }
        var fits = [DGMMFit]()
        var lastError: MFAError?
        for restart in 0..<restarts {
            var random = RandomGenerator(seed: options.seed &+ UInt64(restart) &* 0x9E37_79B9_7F4A_7C15)
            do {
                // x' = (x − origin)/s is the affine map x ↦ −origin/s + x/s.
                let start = try from.map { model in
                    DGMMLayerParameters.of(try model.transformed(origin: engine.origin.map { -$0 / engine.scale },
                                                                 scale: [Float](repeating: 1 / engine.scale, count: shape.dimension)))
                } ?? DGMMInitialiser.random(shape, data: data, origin: engine.origin, scale: engine.scale,
                                            variance: standardVariance, random: &random)
                let began = ContinuousClock.now
                var session = DGMMSession(engine: engine, shape: shape, parameters: start, options: options, annealing: annealing,
                                          logNoiseFloor: Foundation.log(options.minVariance / (scale * scale)),
                                          totalSteps: options.epochs * ((data.rows + engine.capacity - 1) / engine.capacity))
                try session.run(data, validation: validation, random: &random) { progress(restart, $0) }
                let logLikelihood = try session.loadParameters().meanLogLikelihood(data)
                guard logLikelihood.isFinite else { throw MFAError.diverged("restart \(restart + 1): the final log-likelihood is not finite") }
                let model = try session.parameters.model(shape)
                    .transformed(origin: engine.origin, scale: [Float](repeating: engine.scale, count: shape.dimension))
                fits.append(DGMMFit(model: model, logLikelihood: logLikelihood, restart: restart,
                                    seconds: seconds(ContinuousClock.now - began), engineSeconds: session.engineSeconds))
            } catch let error as MFAError {
                if case .interrupted = error { throw error }
                lastError = error
                failed(restart, error)
            }
        }
        guard !fits.isEmpty else { throw lastError ?? MFAError.diverged("no restart finished") }
        return fits.sorted { $0.logLikelihood > $1.logLikelihood }
    }
}

/// The state of one DGMM run: the layers (standardised units), Adam's moments, the engine.
struct DGMMSession<B: Backend> {
    let engine: MixtureEngine<B>
    let shape: DGMMShape
    var parameters: [DGMMLayerParameters]
    let options: TrainingOptions
    let annealing: Annealing
    /// log of σ²_min in standardised units: no layer's noise variance falls below it.
    let logNoiseFloor: Double
    let totalSteps: Int
    var firstMoment: [DGMMLayerParameters]
    var secondMoment: [DGMMLayerParameters]
    var stepCount = 0
    /// Time in the engine's batch passes, for `DGMMFit.engineSeconds`.
    var engineSeconds = 0.0

    init(engine: MixtureEngine<B>, shape: DGMMShape, parameters: [DGMMLayerParameters], options: TrainingOptions,
         annealing: Annealing, logNoiseFloor: Double, totalSteps: Int) {
        self.engine = engine
        self.shape = shape
        self.parameters = parameters
        self.options = options
        self.annealing = annealing
        self.logNoiseFloor = logNoiseFloor
        self.totalSteps = totalSteps
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
        try engine.loadStandardised(try parameters.pathMixture(shape, terms: terms).precisionParameters())
    }

    mutating func run<S: SampleSource>(_ data: S, validation: (any SampleSource)?, random: inout RandomGenerator,
                                       progress: (EpochReport) -> Void) throws {
        let began = ContinuousClock.now
        var order = Array(0..<data.rows)
        for epoch in 1...options.epochs {
            let epochBegan = ContinuousClock.now
            order.shuffle(using: &random)
            var logLikelihoodSum = 0.0
            for batchStart in stride(from: 0, to: data.rows, by: engine.capacity) {
                try engine.loadBatch(data, rows: order[batchStart..<min(batchStart + engine.capacity, data.rows)])
                let logLikelihood = try step()
                guard logLikelihood.isFinite else {
                    throw MFAError.diverged("non-finite log-likelihood at epoch \(epoch), step \(stepCount); try a smaller --learning-rate")
                }
                logLikelihoodSum += logLikelihood
            }
            let validationLogLikelihood = try validation.map { try loadParameters().meanLogLikelihood($0) }
            let elapsed = seconds(ContinuousClock.now - began)
            progress(EpochReport(epoch: epoch, epochs: options.epochs, trainLogLikelihood: logLikelihoodSum / Double(data.rows),
                                 validationLogLikelihood: validationLogLikelihood,
                                 samplesPerSecond: Double(data.rows) / max(seconds(ContinuousClock.now - epochBegan), 1e-9),
                                 elapsedSeconds: elapsed, remainingSeconds: elapsed / Double(epoch) * Double(options.epochs - epoch),
                                 clippedFraction: 0))
        }
    }

    /// One step on the batch in the engine, on the annealed gradient; returns the batch's summed
    /// log-likelihood before it.
    mutating func step() throws -> Double {
        stepCount += 1
        let terms = parameters.pathTerms(shape)
        try load(terms)
        let began = ContinuousClock.now
        try engine.forward()
        let logLikelihood = try engine.readLogDensity().reduce(0, +)
        guard logLikelihood.isFinite else { return logLikelihood }
        let temperature = annealing.temperature(step: stepCount, total: totalSteps)
        if temperature > 1 { try engine.temperResponsibilities(temperature) }
        let pathGradient = try engine.read(try engine.backward(), count: engine.layout.count)
        engineSeconds += seconds(ContinuousClock.now - began)
        try update(try gradient(pathGradient, terms: terms))
        return logLikelihood
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

    /// Adam (or momentum SGD) on every layer at the scheduled rate, then the variance floor.
    mutating func update(_ gradient: [DGMMLayerParameters]) throws {
        let rate = Double(options.learningRate * options.scheduleFactor(step: stepCount, total: totalSteps))
        let groups: [ParameterGroup] = [.logits, .means, .loadings, .logPrecision]
        for i in parameters.indices {
            for (field, group) in zip(DGMMLayerParameters.fields, groups) {
                let g = gradient[i][keyPath: field]
                guard g.allSatisfy(\.isFinite) else {
                    throw MFAError.diverged("non-finite gradient at step \(stepCount); try a smaller --learning-rate")
                }
                step(&parameters[i][keyPath: field], first: &firstMoment[i][keyPath: field],
                     second: &secondMoment[i][keyPath: field], gradient: g,
                     rate: rate * Double(options.groupRateMultipliers[group] ?? 1))
            }
            for p in parameters[i].logNoise.indices { parameters[i].logNoise[p] = max(parameters[i].logNoise[p], logNoiseFloor) }
        }
    }

    /// One optimizer step on one array of parameters and its moments.
    private func step(_ x: inout [Double], first m: inout [Double], second v: inout [Double], gradient g: [Double], rate: Double) {
        switch options.optimizer {
        case .adam:
            let (beta1, beta2, epsilon) = (Double(options.adamBeta1), Double(options.adamBeta2), Double(options.adamEpsilon))
            let correction1 = 1 - Foundation.pow(beta1, Double(stepCount)), correction2 = 1 - Foundation.pow(beta2, Double(stepCount))
            for p in g.indices {
                m[p] = beta1 * m[p] + (1 - beta1) * g[p]
                v[p] = beta2 * v[p] + (1 - beta2) * g[p] * g[p]
                x[p] -= rate * (m[p] / correction1) / ((v[p] / correction2).squareRoot() + epsilon)
            }
        case .sgd:
            let momentum = Double(options.momentum)
            for p in g.indices {
                m[p] = momentum * m[p] + g[p]
                x[p] -= rate * m[p]
            }
        }
    }
}
