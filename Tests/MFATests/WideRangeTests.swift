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
