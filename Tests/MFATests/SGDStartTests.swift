import Foundation
import MFA
import MFACPU
import Testing

/// SGD's k-means + PCA start, whose per-cluster PCA can leave a small cluster almost no residual
/// noise: factors far beyond what τ lets the precision form hold.
@Suite struct SGDStartTests {
    @Test("The signal-to-noise cap raises ψ by one factor per component, to the cap exactly, and keeps Λ")
    func capRaisesNoise() throws {
        var random = RandomGenerator(seed: 3)
        let model = try MFASimulation.model(try MixtureShape(components: 3, dimension: 12, latent: 2),
                                            settings: .init(signalToNoise: 1e5), random: &random)
        let (capped, raised) = try model.cappingSignalToNoise(at: 499.5)
        #expect(raised == 3 && capped.loadings == model.loadings && capped.means == model.means)
        for c in 0..<3 {
            let ratios = (0..<12).map { capped.noiseVariances[c * 12 + $0] / model.noiseVariances[c * 12 + $0] }
            #expect(ratios.allSatisfy { abs($0 / ratios[0] - 1) < 1e-6 } && ratios[0] > 1, "component \(c): \(ratios)")
            // The largest eigenvalue of ΛᵀΨ⁻¹Λ, densely.
            var g = [Double](repeating: 0, count: 4)
            for j in 0..<12 {
                for a in 0..<2 { for b in 0..<2 {
                    g[a * 2 + b] += Double(capped.loadings[(c * 12 + j) * 2 + a]) * Double(capped.loadings[(c * 12 + j) * 2 + b])
                        / Double(capped.noiseVariances[c * 12 + j])
                } }
            }
            let largest = SymmetricJacobi.eigen(g, order: 2).values.last!
            #expect(abs(largest / 499.5 - 1) < 1e-4, "component \(c): \(largest)")
        }
        let (unchanged, none) = try capped.cappingSignalToNoise(at: 600)
        #expect(none == 0 && unchanged == capped)
    }

    @Test("SGD leaves the k-means + PCA start on overlapping clusters with small noise (it stayed there, every epoch undone)")
    func sgdLeavesThePCAStart() throws {
        // 10 clusters of 4 factors in d = 20, centres N(0, 2²), noise variances in [0.01, 0.1]: k-means merges and splits them, and
        // PCA on a small cluster explains nearly all of it. Drawn here, not by MFASimulation.
        var random = RandomGenerator(seed: 5)
        let (k, d, l, n) = (10, 20, 4, 5000)
        let centres = (0..<(k * d)).map { _ in 2 * random.normal() }
        let loadings = (0..<(k * d * l)).map { _ in random.normal() }
        let noise = (0..<(k * d)).map { _ in 0.01 + 0.09 * random.uniform() }
        var values = [Float]()
        values.reserveCapacity(n * d)
        for _ in 0..<n {
            let c = Int(random.uniform() * Double(k)) % k
            let z = (0..<l).map { _ in random.normal() }
            for j in 0..<d {
                var x = centres[c * d + j] + noise[c * d + j].squareRoot() * random.normal()
                for i in 0..<l { x += loadings[(c * d + j) * l + i] * z[i] }
                values.append(Float(x))
            }
        }
        let data = try Matrix(rows: n, columns: d, values: values)
        let backend = CPUBackend()
        var options = TrainingOptions()  // as `mfa train --algorithm sgd` sets them
        options.initialisation = .kmeansPCA
        options.adamBeta1 = TrainingOptions.sgdAdamBeta1
        options.groupRateMultipliers = TrainingOptions.sgdGroupRateMultipliers
        let sgd = try SGDTrainer(backend: backend, options: options).train(data, components: k, latent: l).covarianceModel()
        var emOptions = TrainingOptions()
        emOptions.initialisation = .kmeansPCA
        emOptions.batchSize = 500
        let em = try OnlineEMTrainer(backend: backend, options: emOptions).run(data, components: k, latent: l).result
        let (sgdScore, emScore) = (try sgd.engine(backend: backend).meanLogLikelihood(data), try em.engine(backend: backend).meanLogLikelihood(data))
        // Without the cap SGD ended 21.2 nats below online EM (−33.6 against −12.4), with it 7.9.
        #expect(sgdScore > emScore - 12, "SGD \(sgdScore), online EM \(emScore)")
    }
}
