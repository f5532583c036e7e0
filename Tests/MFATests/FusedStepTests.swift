import Foundation
import MFA
import MFACPU
import Testing

/// The CPU's fused optimizer step (`CPUBackend.updateStep`) against the four operations it fuses,
/// run separately (`FaultyBackend` with no fault runs the protocol's composed step).
@Suite struct FusedStepTests {
    @Test("The fused step equals its four operations bit for bit (θ, both moments, the tallies), clipping included",
          arguments: NoiseStructure.allCases)
    func fusedEqualsComposed(noise: NoiseStructure) throws {
        let data = Fixtures.data(rows: 300, columns: 9, seed: 31)
        var options = TrainingOptions()
        options.batchSize = 60
        options.noise = noise
        options.eigenvalueFloor = 0.995  // above the start's eigenvalues (M ≈ 0.99 I): every step clips
        var random = RandomGenerator(seed: 32)
        let shape = try MixtureShape(components: 4, dimension: 9, latent: 3)
        let start = try Initialiser.initialise(data, shape: shape, options: options, backend: CPUBackend(), random: &random)
            .precisionParameters()
        let fused = try SGDStrategy(backend: CPUBackend(), start: start, data: data, options: options, totalSteps: 100)
        let composed = try SGDStrategy(backend: FaultyBackend { _ in false }, start: start, data: data, options: options,
                                       totalSteps: 100)
        func steps<B: Backend>(_ strategy: SGDStrategy<B>) throws -> (logLikelihood: Double, clipped: Double) {
            for batch in 0..<5 {
                try strategy.engine.loadBatch(data, rows: (batch * 60)..<((batch + 1) * 60))
                try strategy.beginBatch(BatchShare(rows: 60, whole: true))
                _ = try strategy.accumulate()
                _ = try strategy.update(reducer: SingleProcess())
            }
            return try strategy.settle()
        }
        let (a, b) = (try steps(fused), try steps(composed))
        #expect(a.logLikelihood == b.logLikelihood && a.clipped == b.clipped)
        #expect(a.clipped > 0, "τ = 0.995 clips")
        #expect(try fused.save() == composed.save(), "θ, moments and eigenvalues")
    }
}
