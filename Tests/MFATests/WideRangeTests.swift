import Foundation
import MFA
import MFACPU
import Testing

/// Data drawn another way than the other tests': columns whose scales span 10⁴, offsets in the
/// thousands, elongated components (`MFASimulation`, as `mfa simulate mfa` draws them).
@Suite struct WideRangeTests {
    func draw(signalToNoise: Double) throws -> (truth: MixtureModel, data: Matrix) { try Fixtures.wideRange(signalToNoise: signalToNoise) }

    @Test("The simulation puts columns in their own units and keeps the asked signal-to-noise ratio")
    func simulationHasItsRange() throws {
        let (_, data) = try draw(signalToNoise: 1e3)
        let variance = try data.columnMoments().variance
        #expect(variance.max()! / variance.min()! > 1e4, "column variances \(variance)")
        // In unit coordinates (no column scales) Σ = ΛΛᵀ + νI with λ_max(ΛΛᵀ) = 1e3·ν: ratio 1e3 + 1.
        var random = RandomGenerator(seed: 2)
        let unit = try MFASimulation.model(try MixtureShape(components: 3, dimension: 10, latent: 2),
                                           settings: .init(signalToNoise: 1e3), random: &random)
        for c in 0..<3 {
            let largest = try SmallLinearAlgebra.symmetricEigen(Dense.covariance(unit, component: c), order: 10).values.last!
            #expect(abs(largest / Double(unit.noiseVariances[c * 10]) - 1001) < 1, "component \(c)")
        }
    }

    @Test("EM and online EM recover the truth on wide-range data: within 0.1 nats from it, within 1 from their own start",
          arguments: ["em", "online-em"])
    func emRecoversWideRange(algorithm: String) throws {
        let (truth, data) = try draw(signalToNoise: 1e3)
        let backend = CPUBackend()
        let trueScore = try truth.engine(backend: backend).meanLogLikelihood(data)
        var options = TrainingOptions()
        options.initialisation = .kmeansPCA
        options.epochs = 14
        options.batchSize = 2000
        func fit(from start: MixtureModel?) throws -> Double {
            let model = algorithm == "em"
                ? try EMTrainer(backend: backend, options: options).train(data, components: 3, latent: 2, from: start).model
                : try OnlineEMTrainer(backend: backend, options: options).run(data, components: 3, latent: 2, from: start).result
            return try model.engine(backend: backend).meanLogLikelihood(data)
        }
        let fromTruth = try fit(from: truth), fromStart = try fit(from: nil)
        #expect(fromTruth > trueScore - 0.1, "\(algorithm) from the truth: \(fromTruth) vs \(trueScore)")
        #expect(fromStart > trueScore - 1, "\(algorithm) from its start: \(fromStart) vs \(trueScore)")
    }
}

/// `mfa simulate dgmm --signal-to-noise`: hard DGMM cases with ground truth.
@Suite struct DGMMRangeSimulationTests {
    @Test("Each layer-1 component's noise sits the asked ratio below the largest signal eigenvalue of its paths")
    func signalToNoiseAsAsked() throws {
        let shape = try DGMMShape(dimension: 9, components: [3, 2], latent: [4, 2])
        var random = RandomGenerator(seed: 4)
        let model = try DGMMSimulation.model(shape, range: .init(signalToNoise: 1e6), random: &random)
        let paths = try model.pathMixture()
        let d = 9
        var largest = [Double](repeating: 0, count: 3)
        for path in 0..<shape.pathCount {
            let covariance = Dense.covariance(paths, component: path)
            var signal = covariance
            for j in 0..<d { signal[j * d + j] -= Double(paths.noiseVariances[path * d + j]) }
            let first = shape.choices(path: path)[0]
            largest[first] = max(largest[first], try SmallLinearAlgebra.symmetricEigen(signal, order: d).values.last!)
        }
        for c in 0..<3 {
            let noise = model.layers[0].noiseVariances[(c * d)..<((c + 1) * d)].reduce(0) { $0 + Double($1) } / Double(d)
            #expect(abs(largest[c] / noise / 1e6 - 1) < 1e-3, "component \(c): ratio \(largest[c] / noise)")
        }
    }
}

/// DGMM training on data whose columns span 10⁴ in scale and sit 10³ from zero, at a high
/// signal-to-noise ratio: training whitens every column, so the units do not decide the fit.
@Suite struct DGMMWideRangeTests {
    func draw(signalToNoise: Double, columnScale: Double, seed: UInt64) throws -> (shape: DGMMShape, truth: DGMMModel, data: Matrix) {
        let shape = try DGMMShape(dimension: 8, components: [2, 2], latent: [4, 1])
        var random = RandomGenerator(seed: seed)
        let truth = try DGMMSimulation.model(shape, separation: 4, range: .init(signalToNoise: signalToNoise, columnScale: columnScale,
                                                                               offset: 1000), random: &random)
        return (shape, truth, try truth.sample(count: 1500, random: &random).samples)
    }

    func score(_ model: DGMMModel, _ data: Matrix) throws -> Double {
        try model.pathMixture().engine(backend: CPUBackend(precision: .double)).meanLogLikelihood(data)
    }

    @Test("From the truth a DGMM stays within 0.1 nats of it, from k-means++ starts it comes within 1, at signal-to-noise 10⁶ and 10⁸",
          arguments: [1e6, 1e8])
    func recoversTheTruth(signalToNoise: Double) throws {
        let (shape, truth, data) = try draw(signalToNoise: signalToNoise, columnScale: 1e4, seed: 2)
        let variance = try data.columnMoments().variance
        #expect(variance.max()! / variance.min()! > 1e4, "column variances \(variance)")
        let trueScore = try score(truth, data)
        var options = TrainingOptions()
        (options.epochs, options.minVariance, options.seed, options.restarts) = (10, 1e-12, 1, 1)
        let backend = CPUBackend(precision: .double)
        let warm = try DGMMTrainer(backend: backend, options: options, annealing: .off, exactEpochs: 5)
            .train(data, shape: shape, from: truth)
        #expect(try score(warm.model, data) > trueScore - 0.1, "from the truth: \(warm.logLikelihood) vs \(trueScore)")
        (options.epochs, options.restarts, options.initialisation) = (100, 3, .kmeansPlusPlus)
        let fresh = try DGMMTrainer(backend: backend, options: options, exactEpochs: 40).train(data, shape: shape)
        #expect(try score(fresh.model, data) > trueScore - 1, "from k-means++: \(fresh.logLikelihood) vs \(trueScore)")
    }

    @Test("In float32 a restart whose passes fail the float64 check ends before its EM epochs, says so, and is scored exactly")
    func float32EndsBeforeEM() throws {
        // Near the truth at 10⁸ float32 loses nats per row (a fresh start this small stays too far
        // from it to lose them).
        let (shape, truth, data) = try draw(signalToNoise: 1e8, columnScale: 1e4, seed: 2)
        var options = TrainingOptions()
        // Gradient steps too small to leave the truth (a larger one is undone, and ends the run).
        (options.epochs, options.minVariance, options.seed, options.learningRate) = (6, 1e-12, 1, 1e-9)
        final class Notes: @unchecked Sendable { var lines = [String]() }
        let notes = Notes()
        var lastEpoch = 0
        let fit = try DGMMTrainer(backend: CPUBackend(), options: options, annealing: .off, exactEpochs: 4).train(
            data, shape: shape, from: truth, control: TrainingControl(note: { notes.lines.append($0) }),
            progress: { lastEpoch = $0.epoch })
        #expect(notes.lines.filter { $0.contains("before its 4 EM epochs") }.count == 1, "\(notes.lines)")
        #expect(lastEpoch == 2)
        let exact = try score(fit.model, data)
        #expect(abs(fit.logLikelihood - exact) < 0.05, "reported \(fit.logLikelihood), exact \(exact)")
    }

    @Test("A DGMM trained on columns rescaled and shifted is the same model in those units")
    func unitsDoNotDecide() throws {
        let (shape, _, data) = try draw(signalToNoise: 1e4, columnScale: 1, seed: 3)
        let scales = (0..<8).map { Foundation.pow(10, Double($0 % 5)) }, shifts = (0..<8).map { 500 * Double($0) - 1500 }
        let rescaled = try Matrix(rows: data.rows, columns: 8, values: data.values.indices.map {
            Float(Double(data.values[$0]) * scales[$0 % 8] + shifts[$0 % 8])
        })
        var options = TrainingOptions()
        (options.epochs, options.minVariance, options.seed) = (8, 1e-12, 4)
        let backend = CPUBackend(precision: .double)
        let plain = try DGMMTrainer(backend: backend, options: options).train(data, shape: shape)
        let moved = try DGMMTrainer(backend: backend, options: options).train(rescaled, shape: shape)
        // The same log-likelihood less the Jacobian Σ log c_j, up to float32 storage of the data.
        let jacobian = scales.reduce(0) { $0 + Foundation.log($1) }
        #expect(abs(moved.logLikelihood + jacobian - plain.logLikelihood) < 1e-3, "\(moved.logLikelihood + jacobian) vs \(plain.logLikelihood)")
    }
}
