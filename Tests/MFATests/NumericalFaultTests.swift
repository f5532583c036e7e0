import Foundation
import MFA
import MFACPU
import Testing

/// A CPU backend that writes NaN into θ after chosen optimizer updates: a numerical fault on demand.
final class FaultyBackend: Backend {
    typealias Buffer = CPUBuffer
    let base = CPUBackend()
    let faultyUpdates: (Int) -> Bool
    private(set) var updates = 0

    init(faultyUpdates: @escaping (Int) -> Bool) { self.faultyUpdates = faultyUpdates }

    var name: String { "faulty " + base.name }
    func makeBuffer(count: Int) throws -> CPUBuffer { try base.makeBuffer(count: count) }
    func write(_ values: UnsafeBufferPointer<Float>, to buffer: CPUBuffer, offset: Int) throws { try base.write(values, to: buffer, offset: offset) }
    func read(_ buffer: CPUBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws { try base.read(buffer, offset: offset, into: values) }
    func gemm(_ product: MatrixProduct, a: CPUBuffer, b: CPUBuffer, c: CPUBuffer) throws { try base.gemm(product, a: a, b: b, c: c) }
    func expandBatch(_ batch: CPUBuffer, rows: Int, dimension: Int, into expanded: CPUBuffer) throws {
        try base.expandBatch(batch, rows: rows, dimension: dimension, into: expanded)
    }
    func project(_ parameters: CPUBuffer, firstMoment: CPUBuffer?, secondMoment: CPUBuffer?, components: CPUBuffer,
                 shape: MixtureShape, options: ProjectionOptions) throws {
        try base.project(parameters, firstMoment: firstMoment, secondMoment: secondMoment, components: components, shape: shape, options: options)
    }
    func prepareComponents(_ parameters: CPUBuffer, components: CPUBuffer, shape: MixtureShape) throws {
        try base.prepareComponents(parameters, components: components, shape: shape)
    }
    func logLikelihoods(quadratic: CPUBuffer, latents: CPUBuffer, components: CPUBuffer, shape: MixtureShape, rows: Int,
                        logDensity: CPUBuffer, responsibilities: CPUBuffer) throws {
        try base.logLikelihoods(quadratic: quadratic, latents: latents, components: components, shape: shape, rows: rows,
                                logDensity: logDensity, responsibilities: responsibilities)
    }
    func weightLatents(responsibilities: CPUBuffer, latents: CPUBuffer, shape: MixtureShape, rows: Int, scale: Float, into weighted: CPUBuffer) throws {
        try base.weightLatents(responsibilities: responsibilities, latents: latents, shape: shape, rows: rows, scale: scale, into: weighted)
    }
    func columnSums(_ matrix: CPUBuffer, rows: Int, columns: Int, into totals: CPUBuffer) throws {
        try base.columnSums(matrix, rows: rows, columns: columns, into: totals)
    }
    func tallyLogDensity(_ logDensity: CPUBuffer, rows: Int, into tally: CPUBuffer) throws {
        try base.tallyLogDensity(logDensity, rows: rows, into: tally)
    }
    func latentSecondMoments(responsibilities: CPUBuffer, latents: CPUBuffer, shape: MixtureShape, rows: Int, into moments: CPUBuffer) throws {
        try base.latentSecondMoments(responsibilities: responsibilities, latents: latents, shape: shape, rows: rows, into: moments)
    }
    func assembleGradient(_ parameters: CPUBuffer, components: CPUBuffer, crossSums: CPUBuffer, squareSums: CPUBuffer,
                          columnTotals: CPUBuffer, shape: MixtureShape, into gradient: CPUBuffer) throws {
        try base.assembleGradient(parameters, components: components, crossSums: crossSums, squareSums: squareSums,
                                  columnTotals: columnTotals, shape: shape, into: gradient)
    }
    func applyUpdate(_ update: OptimizerUpdate, parameters: CPUBuffer, gradient: CPUBuffer, firstMoment: CPUBuffer, secondMoment: CPUBuffer?) throws {
        try base.applyUpdate(update, parameters: parameters, gradient: gradient, firstMoment: firstMoment, secondMoment: secondMoment)
        updates += 1
        if faultyUpdates(updates) { parameters.pointer[0] = .nan }
    }
}

@Suite struct NumericalFaultTests {
    let data = Fixtures.data(rows: 640, columns: 6, seed: 12)
    var options: TrainingOptions {
        var options = TrainingOptions()
        options.epochs = 3
        options.batchSize = 64
        return options
    }

    @Test("A non-finite loss rolls the epoch back, halves the learning rate, says so, and training finishes")
    func faultIsRolledBack() throws {
        var reports = [EpochReport]()
        let model = try SGDTrainer(backend: FaultyBackend { $0 == 15 }, options: options)
            .train(data, components: 2, latent: 1) { reports.append($0) }
        #expect(reports.map(\.rollbacks) == [0, 1, 0])
        #expect(reports.map(\.learningRateFactor) == [1, 0.5, 0.5])
        let finite = model.means + model.precisionDiagonal + model.precisionLoadings + model.weights
        #expect(finite.allSatisfy { $0.isFinite })
    }

    @Test("A fault after a checkpoint rolls back to that checkpoint, so a run resumed from it ends the same, bit for bit")
    func faultAfterResume() throws {
        // 10 steps an epoch, a checkpoint every 4 steps; the fault strikes at step 15 (epoch 2),
        // after the checkpoint at step 12.
        var checkpoints = [TrainingCheckpoint]()
        var reports = [EpochReport]()
        let whole = try SGDTrainer(backend: FaultyBackend { $0 == 15 }, options: options)
            .train(data, components: 2, latent: 1,
                   control: TrainingControl(checkpointEvery: 4, save: { checkpoints.append($0) })) { reports.append($0) }
        let atStep12 = try #require(checkpoints.first { $0.state.integers["step"] == 12 })
        var resumedReports = [EpochReport]()
        let resumed = try SGDTrainer(backend: FaultyBackend { $0 == 3 }, options: options)  // its third update is step 15
            .train(data, components: 2, latent: 1, control: TrainingControl(resume: atStep12)) { resumedReports.append($0) }
        #expect(reports.map(\.rollbacks) == [0, 1, 0])
        #expect(resumedReports.map(\.rollbacks) == [1, 0], "the resumed run reports the epoch it resumed in")
        #expect(whole == resumed)
        // Control: no fault at all.
        checkpoints = []
        let plain = try SGDTrainer(backend: FaultyBackend { _ in false }, options: options)
            .train(data, components: 2, latent: 1, control: TrainingControl(checkpointEvery: 4, save: { checkpoints.append($0) }))
        let plainResumed = try SGDTrainer(backend: FaultyBackend { _ in false }, options: options)
            .train(data, components: 2, latent: 1, control: TrainingControl(resume: try #require(checkpoints.first { $0.state.integers["step"] == 12 })))
        #expect(plain == plainResumed, "control")
    }

    @Test("Data whose variance a float32 model in the data's units cannot hold are refused before SGD trains")
    func hugeSpreadRefused() throws {
        var values = data.values
        values[10 * 6 + 2] = 1e30
        let wide = try Matrix(rows: 640, columns: 6, values: values)
        #expect(throws: MFAError.self) { try SGDTrainer(backend: CPUBackend(), options: options).train(wide, components: 2, latent: 1) }
    }

    @Test("Faults that keep coming stop training with a clear error after a bounded number of roll-backs")
    func persistentFaultsStop() throws {
        let backend = FaultyBackend { $0 > 3 }
        do {
            _ = try SGDTrainer(backend: backend, options: options).train(data, components: 2, latent: 1)
            Issue.record("training finished")
        } catch let error as MFAError {
            guard case .diverged(let message) = error else { Issue.record("unexpected \(error)"); return }
            #expect(message.contains("after 5 roll-backs"))
        }
    }
}

@Suite struct DeadComponentTests {
    @Test("--reinit-dead moves starved components onto data, and training with it finishes")
    func reseedsDeadComponents() throws {
        // Two clusters, six components: some starve.
        var random = RandomGenerator(seed: 13)
        let values = (0..<(800 * 4)).map { index -> Float in Float((index / 4) % 2 == 0 ? -3 : 3) + Float(0.3 * random.normal()) }
        let data = try Matrix(rows: 800, columns: 4, values: values)
        let shape = try MixtureShape(components: 6, dimension: 4, latent: 1)
        var parameters = try Fixtures.model(shape, seed: 14).precisionParameters()
        parameters.weights = [0.5, 0.5 - 5e-7, 1e-7, 1e-7, 1e-7, 2e-7]
        let engine = try MixtureEngine(backend: CPUBackend(), shape: shape, capacity: 100, origin: [0, 0, 0, 0])
        try engine.load(parameters)
        var generator = RandomGenerator(seed: 15)
        let (next, count) = try DeadComponents.reseed(parameters, engine: engine, data: data, start: parameters, random: &generator)
        #expect(count == 4)
        #expect(DeadComponents.dead(next).isEmpty)
        #expect(abs(next.weights.reduce(0, +) - 1) < 1e-5)
        var options = TrainingOptions()
        options.reinitialiseDead = true
        options.epochs = 4
        options.batchSize = 100
        var reseeded = [Int]()
        _ = try SGDTrainer(backend: CPUBackend(), options: options).train(data, components: 6, latent: 1) { reseeded.append($0.reseeded) }
        #expect(reseeded.count == 4 && reseeded[2...].allSatisfy { $0 == 0 })  // only in the first half
    }
}
