import Foundation
import MFA
import MFACPU
import Testing

/// The CPU backend in float64 (`--precision float64`): the same kernels as float32, and the range
/// float32 lacks.
@Suite struct Float64BackendTests {
    let shape = try! MixtureShape(components: 3, dimension: 10, latent: 2)

    func draw(signalToNoise: Double) throws -> (truth: MixtureModel, data: Matrix) { try Fixtures.wideRange(signalToNoise: signalToNoise) }

    @Test("On ordinary data float64 and float32 agree (log-densities, gradients: the generic kernels), and float64 equals dense algebra")
    func precisionsAgree() throws {
        let model = Fixtures.model(shape, seed: 3)
        let data = Fixtures.data(rows: 200, columns: 10, seed: 4)
        var results = [[Double]]()
        for precision in [CPUPrecision.single, .double] {
            let backend = CPUBackend(precision: precision)
            let engine = try model.engine(backend: backend, batchSize: 200)
            try engine.loadBatch(data, rows: 0..<200)
            try engine.forward()
            let logDensity = try engine.readLogDensity()
            var gradient = [Double](repeating: 0, count: engine.layout.count)
            try gradient.withUnsafeMutableBufferPointer { try backend.readDoubles(try engine.backward(), offset: 0, into: $0) }
            results.append(logDensity + gradient)
        }
        #expect(close(results[0], results[1], atol: 1e-3, rtol: 1e-4))
        let dense = Dense.evaluate(model, data).logDensity
        // 3e-8: the engine renormalises the float32 weights, which sum to 1 only within float32.
        #expect(close(Array(results[1].prefix(200)), dense, atol: 1e-7, rtol: 1e-10), "float64 against dense algebra")
    }

    @Test("At signal-to-noise 10⁸ and column scales up to 10⁴, float64 log-densities equal dense algebra; float32's fail the check")
    func rangeHolds() throws {
        let (truth, data) = try draw(signalToNoise: 1e8)
        let rows = try Matrix(rows: 300, columns: 10, values: Array(data.values.prefix(3000)))
        let engine = try truth.engine(backend: CPUBackend(precision: .double), batchSize: 300)
        try engine.loadBatch(rows, rows: 0..<300)
        try engine.forward()
        let dense = Dense.evaluate(truth, rows).logDensity
        #expect(close(try engine.readLogDensity(), dense, atol: 1e-6, rtol: 1e-9))
        #expect(try PrecisionCheck(truth, data: rows, backend: CPUBackend(precision: .double)).passes)
        #expect(try !PrecisionCheck(truth, data: rows, backend: CPUBackend()).passes)
    }

    @Test("EM and online EM in float64 at signal-to-noise 10⁸: from the truth within 0.1 nats of it, from their own start within 1",
          arguments: ["em", "online-em"])
    func emReachesTheTruth(algorithm: String) throws {
        let (truth, data) = try draw(signalToNoise: 1e8)
        let backend = CPUBackend(precision: .double)
        let trueScore = try truth.engine(backend: backend).meanLogLikelihood(data)
        var options = TrainingOptions()
        options.minVariance = 1e-12  // the truth's noise variances go down to ~1e-7 in the narrowest columns
        options.batchSize = algorithm == "em" ? 2000 : 600  // online EM: the command line's default for 6,000 rows
        options.initialisation = algorithm == "em" ? .kmeansPlusPlus : .kmeansPCA
        options.epochs = 14
        func fit(from start: MixtureModel?) throws -> Double {
            let model = algorithm == "em"
                ? try EMTrainer(backend: backend, options: options).train(data, components: 3, latent: 2, from: start).model
                : try OnlineEMTrainer(backend: backend, options: options).run(data, components: 3, latent: 2, from: start).result
            return try PreciseLogDensity(model).logDensities(data, rows: Array(0..<data.rows)).reduce(0, +) / Double(data.rows)
        }
        let fromTruth = try fit(from: truth), fromStart = try fit(from: nil)
        #expect(fromTruth > trueScore - 0.1, "from the truth: \(fromTruth) vs \(trueScore)")
        #expect(fromStart > trueScore - 1, "\(algorithm) from its start: \(fromStart) vs \(trueScore)")
    }

    @Test("A start whose noise sits at a floor of 1e-12 trains (online EM and EM, both precisions): I + ΛᵀΨ⁻¹Λ's round-off no longer ends the run")
    func extremeFloorTrains() throws {
        let (_, data) = try Fixtures.wideRange(signalToNoise: 1e6, seed: 0)
        var options = TrainingOptions()
        options.minVariance = 1e-12
        options.batchSize = 600
        options.epochs = 2
        options.initialisation = .kmeansPCA
        for precision in [CPUPrecision.single, .double] {
            let backend = CPUBackend(precision: precision)
            let online = try OnlineEMTrainer(backend: backend, options: options).run(data, components: 4, latent: 2).result
            let em = try EMTrainer(backend: backend, options: options).train(data, components: 4, latent: 2, iterations: 3).model
            for model in [online, em] {
                let score = try PreciseLogDensity(model).logDensities(data, rows: Array(0..<500)).reduce(0, +)
                #expect(score.isFinite)
            }
        }
    }
}
