import Foundation
import MFA
import MFACPU
import Testing

@Suite struct TrainingTests {
    /// Data drawn from a known MFA; the trained model's held-out log-likelihood must come within
    /// 0.1 nats per sample (0.6%) of the true model's, and cannot beat it by more than noise.
    @Test("Training recovers a known MFA", arguments: [TrainingOptions.Initialisation.random, .kmeansPlusPlus])
    func recoversKnownModel(initialisation: TrainingOptions.Initialisation) throws {
        let shape = try MixtureShape(components: 3, dimension: 10, latent: 2)
        let truth = Fixtures.model(shape, seed: 3, loadingScale: 1.0)
        var random = RandomGenerator(seed: 99)
        let train = truth.sample(count: 6000, random: &random).samples
        let test = truth.sample(count: 3000, random: &random).samples
        var options = TrainingOptions()
        options.epochs = 30
        options.batchSize = 128
        options.initialisation = initialisation
        options.minVariance = 1e-3
        let trained = try SGDTrainer(backend: CPUBackend(), options: options)
            .train(train, components: 3, latent: 2).covarianceModel()
        let backend = CPUBackend()
        let trueScore = try truth.engine(backend: backend).meanLogLikelihood(test)
        let trainedScore = try trained.engine(backend: backend).meanLogLikelihood(test)
        #expect(trainedScore > trueScore - 0.1, "trained \(trainedScore) vs true \(trueScore)")
        #expect(trainedScore < trueScore + 0.05, "trained \(trainedScore) vs true \(trueScore)")
    }

    /// Data from a known MFA and EM's fit to it: an optimum for SGD to start from.
    func optimum() throws -> (data: Matrix, model: MixtureModel) {
        let data = Fixtures.drawn(try MixtureShape(components: 3, dimension: 10, latent: 2), modelSeed: 3, dataSeed: 7, count: 3000).data
        var options = TrainingOptions()
        options.initialisation = .kmeansPlusPlus
        return (data, try EMTrainer(backend: CPUBackend(), options: options).train(data, components: 3, latent: 2).model)
    }

    /// SGD at a large rate, from `optimum()`'s model.
    var largeRate: TrainingOptions {
        var options = TrainingOptions()
        options.learningRate = 0.3
        options.epochs = 4
        options.batchSize = 64
        return options
    }

    /// Adam's normalised steps move every coordinate by about the rate, so at an optimum they walk
    /// away from it (README, "SGD at EM's optimum"); an epoch that lowers the probe rows'
    /// likelihood is undone and run again at half the rate.
    @Test("SGD started at EM's optimum with a large rate does not leave it: worse epochs are undone")
    func sgdHoldsAnOptimum() throws {
        let (data, em) = try optimum()
        let start = try em.engine(backend: CPUBackend()).meanLogLikelihood(data)
        var undone = 0
        let outcome = try SGDTrainer(backend: CPUBackend(), options: largeRate)
            .run(data, components: 3, latent: 2, from: em) { undone += $0.undone }
        #expect(undone > 0)
        #expect(outcome.best.logLikelihood > start - 0.01, "EM \(start), SGD from it \(outcome.best.logLikelihood)")
    }

    /// The undo guards the start's level, not the last epoch's: near its noise floor an epoch at
    /// full rate ends a little below the one before, which must not halve the rate of a run far
    /// above its start (judged against the last epoch, 80 epochs from random means on
    /// Fashion-MNIST ended at 1001.5 instead of 1005).
    @Test("SGD from random means is never undone: its epochs are judged against its start")
    func runsFromAPoorStartAreNotSlowed() throws {
        let data = try optimum().data
        var options = TrainingOptions()
        (options.epochs, options.batchSize) = (30, 64)
        var undone = 0
        _ = try SGDTrainer(backend: CPUBackend(), options: options).run(data, components: 3, latent: 2) { undone += $0.undone }
        #expect(undone == 0)
    }

    /// At absurd rates every epoch is undone (it ends worse, or blows up into an impossible
    /// likelihood: float32 round-off at huge precisions) until the epoch's undos are spent; the
    /// restart then ends with the last model kept. (A non-finite loss is a fault: rolled back, and
    /// after 5 an error that names the rate, `NumericalFaultTests`.)
    @Test("SGD from an optimum at absurd rates ends no worse than it began (impossible scores undone, the undo budget ends the restart)",
          arguments: [Float(1e4), 1e9])
    func absurdRatesEndAtTheLastKeptModel(rate: Float) throws {
        let (data, em) = try optimum()
        let start = try em.engine(backend: CPUBackend()).meanLogLikelihood(data)
        var options = largeRate
        options.learningRate = rate
        var reports = [EpochReport]()
        let outcome = try SGDTrainer(backend: CPUBackend(), options: options).run(data, components: 3, latent: 2, from: em) { reports.append($0) }
        #expect(reports.last?.endsRestart == true)
        #expect(reports.reduce(0) { $0 + $1.undone } == TrainingLoop.maximumUndos + 1)
        #expect(outcome.best.logLikelihood > start - 0.01, "EM \(start), SGD from it \(outcome.best.logLikelihood)")
    }

    /// SGD's projection caps a factor's signal-to-noise ratio at 1/τ: a warm start beyond it loses
    /// likelihood before the first step, which the probe (scored after loading) cannot see, so
    /// the trainer counts what loading cut (and `train` says so).
    @Test("SGD counts the start's factors that loading cut to τ: none for EM's fit here, some at signal-to-noise 10⁶")
    func countsFactorsCutAtStart() throws {
        let (data, em) = try optimum()
        func cut(_ start: MixtureModel, _ data: Matrix) throws -> Int {
            try SGDStrategy(backend: CPUBackend(), start: try start.precisionParameters(), data: data, options: TrainingOptions(),
                            totalSteps: 1).clippedAtStart
        }
        #expect(try cut(em, data) == 0)
        let (truth, wide) = try Fixtures.wideRange(signalToNoise: 1e6)
        #expect(try cut(truth, wide) > 0)
    }

    /// An undo returns to the epoch's start, which every checkpoint holds: checkpoints change
    /// nothing, and a run resumed from any of them, inside an undone epoch or not, ends the same.
    @Test("Checkpoints leave SGD's undone epochs as they are; a resume from any checkpoint ends bit-identical")
    func undoneEpochsResumeExactly() throws {
        let (data, em) = try optimum()
        let trainer = SGDTrainer(backend: CPUBackend(), options: largeRate)
        let whole = try trainer.train(data, components: 3, latent: 2, from: em)
        var checkpoints = [TrainingCheckpoint]()
        let checkpointed = try trainer.train(data, components: 3, latent: 2, from: em,
                                             control: TrainingControl(checkpointEvery: 5, save: { checkpoints.append($0) }))
        #expect(checkpointed == whole)
        #expect(checkpoints.contains { $0.epochUndone > 0 && $0.batch > 0 })
        for checkpoint in checkpoints.enumerated().filter({ $0.offset % 4 == 0 || $0.element.epochUndone > 0 }).map(\.element) {
            let resumed = try trainer.train(data, components: 3, latent: 2, from: em, control: TrainingControl(resume: checkpoint))
            #expect(resumed == whole, "resumed at epoch \(checkpoint.epoch), batch \(checkpoint.batch)")
        }
    }

    @Test("The same seed gives the same model; another seed another")
    func trainingIsDeterministic() throws {
        let data = Fixtures.data(rows: 500, columns: 6, seed: 1)
        var options = TrainingOptions()
        options.epochs = 2
        options.batchSize = 64
        func run(_ seed: UInt64) throws -> PrecisionParameters {
            options.seed = seed
            return try SGDTrainer(backend: CPUBackend(), options: options).train(data, components: 3, latent: 2)
        }
        #expect(try run(4) == run(4))
        #expect(try run(4) != run(5))
    }

    @Test("Adam's first step moves each parameter by its learning rate against the gradient's sign")
    func adamFirstStep() throws {
        let backend = CPUBackend()
        let theta = try backend.makeBuffer(count: 4), gradient = try backend.makeBuffer(count: 4)
        let first = try backend.makeBuffer(count: 4), second = try backend.makeBuffer(count: 4)
        try [1, 2, 3, 4].withUnsafeBufferPointer { try backend.write($0, to: theta, offset: 0) }
        try [0.5, -2, 1e-3, 0].withUnsafeBufferPointer { try backend.write($0, to: gradient, offset: 0) }
        let update = OptimizerUpdate(rule: .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, step: 1),
                                     segments: [(0..<2, 0.1), (2..<4, 0.01)])
        try backend.applyUpdate(update, parameters: theta, gradient: gradient, firstMoment: first, secondMoment: second)
        let result = Array(UnsafeBufferPointer(start: theta.pointer, count: 4))
        #expect(close(result.map(Double.init), [0.9, 2.1, 2.99, 4], atol: 1e-5, rtol: 0))
    }

    @Test("The CPU backend's Adam, eight lanes at a time, equals the scalar rule bit for bit (tail included)")
    func adamLanesEqualScalarRule() throws {
        let count = 8 * 5 + 3
        var random = RandomGenerator(seed: 5)
        // Gradients over many scales, zeros among them (√0 in the denominator); moments already warm.
        let gradient = (0..<count).map { $0 % 7 == 0 ? Float(0) : Float(random.normal() * pow(10, Double($0 % 9) - 4)) }
        let theta0 = (0..<count).map { _ in Float(random.normal()) }
        let first0 = gradient.map { $0 * 0.3 }, second0 = gradient.map { $0 * $0 * 0.7 }
        let backend = CPUBackend()
        let buffers = try (0..<4).map { _ in try backend.makeBuffer(count: count) }
        for (values, buffer) in zip([theta0, gradient, first0, second0], buffers) {
            try values.withUnsafeBufferPointer { try backend.write($0, to: buffer, offset: 0) }
        }
        let update = OptimizerUpdate(rule: .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, step: 3), segments: [(0..<count, 0.01)])
        try backend.applyUpdate(update, parameters: buffers[0], gradient: buffers[1], firstMoment: buffers[2],
                                secondMoment: buffers[3])
        var (theta, first, second) = (theta0, first0, second0)
        OptimizerStep.adam(&theta, gradient: gradient, first: &first, second: &second, count: count, rate: 0.01, beta1: 0.9,
                           beta2: 0.999, epsilon: 1e-8, inverseCorrection1: 1 / (1 - pow(0.9, 3)),
                           inverseCorrection2: 1 / (1 - pow(0.999, 3)))
        for (expected, buffer) in zip([theta, first, second], [buffers[0], buffers[2], buffers[3]]) {
            let got = Array(UnsafeBufferPointer(start: buffer.pointer, count: count))
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
        }
    }

    @Test("The CPU's precisions e = exp(a), four lanes at a time by libmvec, are libm's to 2 ulp (tail included); 0 where subnormal")
    func vectorExponentialsMatchLibm() throws {
        let shape = try MixtureShape(components: 3, dimension: 7, latent: 0)  // 21 values: five lanes of four and a tail
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        var theta = [Float](repeating: 0, count: layout.count)
        let a = (0..<21).map { Float(-95 + 8.7 * Double($0)) }  // −95 … 79: subnormal results at the low end
        for (p, value) in zip(layout.logPrecision, a) { theta[p] = value }
        let backend = CPUBackend()
        let parameters = try backend.makeBuffer(count: layout.count), components = try backend.makeBuffer(count: cl.count)
        try theta.withUnsafeBufferPointer { try backend.write($0, to: parameters, offset: 0) }
        try backend.prepareComponents(parameters, components: components, shape: shape)
        for c in 0..<3 {
            for j in 0..<7 {
                let x = a[c * 7 + j], got = components.pointer[cl.quadratic.lowerBound + c * 14 + j], exact = Foundation.exp(x)
                if exact < Float.leastNormalMagnitude {
                    #expect(got == 0, "exp(\(x)) = \(got)")
                } else {
                    #expect(abs(got - exact) <= 2 * exact.ulp, "exp(\(x)): \(got) against libm's \(exact)")
                }
            }
        }
    }

    @Test("Bad options and impossible shapes are rejected with a message naming them")
    func rejectsBadOptions() throws {
        let data = Fixtures.data(rows: 10, columns: 4, seed: 2)
        let trainer = SGDTrainer(backend: CPUBackend(), options: TrainingOptions())
        #expect(throws: MFAError.self) { try trainer.train(data, components: 11, latent: 1) }
        #expect(throws: MFAError.self) { try trainer.train(data, components: 2, latent: 4) }
        var options = TrainingOptions()
        options.learningRate = -1
        #expect(throws: MFAError.invalidArgument("the learning rate must be positive and finite (got -1.0)")) {
            try SGDTrainer(backend: CPUBackend(), options: options).train(data, components: 2, latent: 1)
        }
    }
}
