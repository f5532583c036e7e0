import CLAPACKE
import Foundation
import MFA
import MFACPU
import Testing

@Suite struct EMTests {
    let shape = try! MixtureShape(components: 3, dimension: 6, latent: 2)

    func sampleData(_ count: Int, seed: UInt64) -> (truth: MixtureModel, data: Matrix) {
        let truth = Fixtures.model(shape, seed: 31, loadingScale: 0.8)
        var random = RandomGenerator(seed: seed)
        return (truth, truth.sample(count: count, random: &random).samples)
    }

    @Test("EM never decreases the log-likelihood, with statistics accumulated over mini-batches")
    func monotone() throws {
        let (_, data) = sampleData(600, seed: 1)
        var options = TrainingOptions()
        options.initialisation = .kmeansPlusPlus
        options.batchSize = 64
        options.tolerance = 0
        var history = [Double]()
        _ = try EMTrainer(backend: CPUBackend(), options: options)
            .train(data, components: 3, latent: 2, iterations: 25) { history.append($0.trainLogLikelihood) }
        #expect(history.count == 25)
        for (before, after) in zip(history, history.dropFirst()) { #expect(after >= before - 1e-5, "\(before) → \(after)") }
        #expect(history.last! > history.first! + 0.1)
    }

    @Test("One EM step equals the dense M-step (S_k formed explicitly, β = ΛᵀΣ⁻¹)")
    func stepMatchesDense() throws {
        let (truth, data) = sampleData(300, seed: 2)
        // Start away from the truth: other means and loadings.
        let start = Fixtures.model(shape, seed: 77, loadingScale: 0.5)
        let session = try EMStrategy(backend: CPUBackend(), start: start, data: data, batchSize: 128, minVariance: 1e-6)
        try session.iterate()
        let (d, l) = (shape.dimension, shape.latent)
        let responsibilities = Dense.evaluate(start, data).responsibilities
        _ = truth
        for c in 0..<shape.components {
            let r = responsibilities.map { $0[c] }
            let n = r.reduce(0, +)
            let x = (0..<data.rows).map { row in (0..<d).map { Double(data[row, $0]) } }
            let mu = (0..<d).map { j in zip(r, x).reduce(0.0) { $0 + $1.0 * $1.1[j] } / n }
            var s = [Double](repeating: 0, count: d * d)
            for (w, sample) in zip(r, x) { for a in 0..<d { for b in 0..<d { s[a * d + b] += w * (sample[a] - mu[a]) * (sample[b] - mu[b]) / n } } }
            let lambda = (0..<(d * l)).map { Double(start.loadings[c * d * l + $0]) }
            let sigmaInverse = inverse(Dense.covariance(start, component: c), d)
            var beta = [Double](repeating: 0, count: l * d)  // Λᵀ Σ⁻¹
            for i in 0..<l { for j in 0..<d { beta[i * d + j] = (0..<d).reduce(0.0) { $0 + lambda[$1 * l + i] * sigmaInverse[$1 * d + j] } } }
            let sb = product(s, transpose(beta, l, d), d, d, l)                        // Sβᵀ
            var a = product(beta, sb, l, d, l)                                          // βSβᵀ
            let betaLambda = product(beta, lambda, l, d, l)
            for p in 0..<l { for q in 0..<l { a[p * l + q] += (p == q ? 1 : 0) - betaLambda[p * l + q] } }
            let newLambda = product(sb, inverse(a, l), d, l, l)
            let explained = product(newLambda, transpose(sb, d, l), d, l, d)
            var sigma = [Double](repeating: 0, count: d * d)
            for p in 0..<d {
                for q in 0..<d {
                    sigma[p * d + q] = (0..<l).reduce(0.0) { $0 + newLambda[p * l + $1] * newLambda[q * l + $1] }
                        + (p == q ? s[p * d + p] - explained[p * d + p] : 0)
                }
            }
            #expect(close(Dense.covariance(session.model, component: c), sigma, atol: 1e-4, rtol: 1e-3), "component \(c) Σ")
            #expect(close((0..<d).map { Double(session.model.means[c * d + $0]) }, mu, atol: 1e-4, rtol: 1e-4))
            #expect(abs(Double(session.model.weights[c]) - n / Double(data.rows)) < 1e-5)
        }
    }

    @Test("EM recovers a known MFA")
    func recoversKnownModel() throws {
        let (truth, train) = sampleData(4000, seed: 3)
        var random = RandomGenerator(seed: 4)
        let test = truth.sample(count: 2000, random: &random).samples
        var options = TrainingOptions()
        options.initialisation = .kmeansPlusPlus
        options.batchSize = 512
        options.tolerance = 1e-5
        let (model, converged) = try EMTrainer(backend: CPUBackend(), options: options).train(train, components: 3, latent: 2)
        #expect(converged)
        let backend = CPUBackend()
        let trueScore = try truth.engine(backend: backend).meanLogLikelihood(test)
        let score = try model.engine(backend: backend).meanLogLikelihood(test)
        #expect(abs(score - trueScore) < 0.05, "EM \(score) vs true \(trueScore)")
    }

    func product(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { c[i * n + j] = (0..<k).reduce(0.0) { $0 + a[i * k + $1] * b[$1 * n + j] } } }
        return c
    }

    func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
        (0..<(n * m)).map { a[($0 % m) * n + $0 / m] }
    }

    func inverse(_ a: [Double], _ n: Int) -> [Double] {
        var matrix = a
        var pivots = [lapack_int_t](repeating: 0, count: n)
        precondition(LAPACKE_dgetrf(LAPACK_ROW_MAJOR, lapack_int_t(n), lapack_int_t(n), &matrix, lapack_int_t(n), &pivots) == 0)
        precondition(LAPACKE_dgetri(LAPACK_ROW_MAJOR, lapack_int_t(n), &matrix, lapack_int_t(n), pivots) == 0)
        return matrix
    }
}

@Suite struct NoiseStructureTests {
    @Test("Free parameter counts, checked by hand", arguments: [
        (NoiseStructure.diagonal, 2 - 1 + 2 * 5 + 2 * 5 + 2 * (5 * 3 - 3)),  // 1 + 10 + 10 + 24 = 45
        (.isotropic, 1 + 10 + 2 + 24),
        (.shared, 1 + 10 + 5 + 24),
    ])
    func parameterCounts(noise: NoiseStructure, expected: Int) throws {
        #expect(try MixtureShape(components: 2, dimension: 5, latent: 3).freeParameterCount(noise: noise) == expected)
        // l = 1 leaves no rotational freedom; l = 0 is a diagonal GMM: 2K·d + K − 1.
        #expect(try MixtureShape(components: 3, dimension: 4, latent: 0).freeParameterCount == 3 * 8 + 2)
    }

    @Test("Tied noise comes out tied, by EM and by SGD", arguments: [NoiseStructure.isotropic, .shared])
    func tiedNoiseStaysTied(noise: NoiseStructure) throws {
        let shape = try MixtureShape(components: 3, dimension: 6, latent: 2)
        var random = RandomGenerator(seed: 5)
        let data = Fixtures.model(shape, seed: 6).sample(count: 800, random: &random).samples
        var options = TrainingOptions()
        options.noise = noise
        options.initialisation = .kmeansPlusPlus
        options.epochs = 3
        options.batchSize = 100
        let em = try EMTrainer(backend: CPUBackend(), options: options).train(data, components: 3, latent: 2, iterations: 5).model
        let sgd = try SGDTrainer(backend: CPUBackend(), options: options).train(data, components: 3, latent: 2).covarianceModel()
        for model in [em, sgd] {
            let psi = model.noiseVariances.map(Double.init)
            for c in 0..<3 {
                for j in 0..<6 {
                    let reference = noise == .isotropic ? psi[c * 6] : psi[j]
                    #expect(abs(psi[c * 6 + j] - reference) <= 1e-4 * reference, "ψ[\(c), \(j)]")
                }
            }
        }
    }

    @Test("EM with tied noise still never decreases the log-likelihood", arguments: [NoiseStructure.isotropic, .shared])
    func tiedEMIsMonotone(noise: NoiseStructure) throws {
        let shape = try MixtureShape(components: 3, dimension: 6, latent: 2)
        var random = RandomGenerator(seed: 7)
        let data = Fixtures.model(shape, seed: 8).sample(count: 600, random: &random).samples
        var options = TrainingOptions()
        options.noise = noise
        options.initialisation = .kmeansPlusPlus
        options.tolerance = 0
        var history = [Double]()
        _ = try EMTrainer(backend: CPUBackend(), options: options).train(data, components: 3, latent: 2, iterations: 15) {
            history.append($0.trainLogLikelihood)
        }
        for (before, after) in zip(history, history.dropFirst()) { #expect(after >= before - 1e-5, "\(before) → \(after)") }
    }
}
