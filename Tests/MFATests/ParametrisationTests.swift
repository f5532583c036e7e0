import Foundation
import MFA
import MFACPU
import Testing

@Suite struct ParametrisationTests {
    @Test("Covariance → precision → covariance keeps every Σ_k and P_k = Σ_k⁻¹", arguments: [0, 1, 3])
    func conversionRoundTrips(latent: Int) throws {
        let shape = try MixtureShape(components: 3, dimension: 7, latent: latent)
        let model = Fixtures.model(shape, seed: 11)
        let precision = try model.precisionParameters()
        let back = try precision.covarianceModel()
        let d = shape.dimension
        for c in 0..<shape.components {
            let sigma = Dense.covariance(model, component: c)
            #expect(close(Dense.covariance(back, component: c), sigma, atol: 1e-4, rtol: 1e-4))
            // P_k Σ_k = I
            let p = Dense.precision(precision, component: c)
            var product = [Double](repeating: 0, count: d * d)
            for i in 0..<d { for j in 0..<d { for m in 0..<d { product[i * d + j] += p[i * d + m] * sigma[m * d + j] } } }
            let identity = (0..<(d * d)).map { $0 / d == $0 % d ? 1.0 : 0.0 }
            #expect(close(product, identity, atol: 1e-4, rtol: 0))
        }
        #expect(back.means == model.means && back.weights == model.weights)
    }

    @Test("The projection lifts every eigenvalue of M_k to at least τ")
    func projectionEnforcesFloor() throws {
        let shape = try MixtureShape(components: 4, dimension: 9, latent: 3)
        var random = RandomGenerator(seed: 5)
        // Large Γ: M = I − ΓᵀE⁻¹Γ is far from positive definite.
        let raw = PrecisionParameters(
            shape: shape, weights: [0.25, 0.25, 0.25, 0.25], means: [Float](repeating: 0, count: 36),
            precisionDiagonal: [Float](repeating: 1, count: 36),
            precisionLoadings: (0..<(4 * 9 * 3)).map { _ in Float(random.normal()) })
        let engine = try MixtureEngine(backend: CPUBackend(), shape: shape, capacity: 1, origin: [Float](repeating: 0, count: 9))
        let tau = 1e-3
        try engine.load(raw, options: ProjectionOptions(eigenvalueFloor: tau, logPrecisionRange: -10...10))
        let projected = try engine.precisionParameters()
        for c in 0..<shape.components {
            let smallest = try smallestEigenvalueOfM(projected, component: c)
            #expect(smallest >= tau * (1 - 1e-3), "component \(c): λ_min = \(smallest)")
        }
    }

    @Test("The projection leaves P_k unchanged when nothing is clipped")
    func projectionKeepsPrecisionWhenNothingClipped() throws {
        let shape = try MixtureShape(components: 3, dimension: 8, latent: 2)
        let model = Fixtures.model(shape, seed: 21, loadingScale: 0.3)
        let precision = try model.precisionParameters()
        let engine = try MixtureEngine(backend: CPUBackend(), shape: shape, capacity: 1, origin: [Float](repeating: 0, count: 8))
        let clipped = try engine.refreshAfterLoading(precision, tau: 1e-3)
        #expect(clipped == 0)
        let after = try engine.precisionParameters()
        for c in 0..<shape.components {
            #expect(close(Dense.precision(after, component: c), Dense.precision(precision, component: c), atol: 1e-4, rtol: 1e-4))
        }
        // ... and it did rotate Γ into the canonical basis: M_k diagonal.
        for c in 0..<shape.components {
            let m = innerMatrix(after, component: c)
            #expect(abs(m[1]) < 1e-5 && abs(m[2]) < 1e-5)
        }
    }

    @Test("The optimizer moments rotate with Γ: a first moment equal to Γ stays equal to it")
    func momentsRotateWithLoadings() throws {
        let shape = try MixtureShape(components: 2, dimension: 6, latent: 3)
        let model = Fixtures.model(shape, seed: 8, loadingScale: 0.3)
        let backend = CPUBackend()
        let engine = try MixtureEngine(backend: backend, shape: shape, capacity: 1, origin: [Float](repeating: 0, count: 6))
        try engine.load(try model.precisionParameters())
        // Perturb Γ so that M is no longer diagonal, and copy θ into both moment buffers.
        let loadings = engine.layout.loadings
        for p in loadings { engine.parameters.pointer[p] += 0.05 * Float(p % 7 - 3) }
        let first = try backend.makeBuffer(count: engine.layout.count), second = try backend.makeBuffer(count: engine.layout.count)
        first.pointer.update(from: engine.parameters.pointer, count: engine.layout.count)
        for p in 0..<engine.layout.count { second.pointer[p] = engine.parameters.pointer[p] * engine.parameters.pointer[p] }
        let before = loadings.map { Double(engine.parameters.pointer[$0]) }
        try engine.refresh(options: ProjectionOptions(eigenvalueFloor: 1e-3, logPrecisionRange: -20...20),
                           firstMoment: first, secondMoment: second)
        #expect(try engine.drainClipped() == 0)
        let gamma = loadings.map { Double(engine.parameters.pointer[$0]) }
        #expect(!close(gamma, before, atol: 1e-3, rtol: 0), "the projection should have rotated Γ")
        #expect(close(loadings.map { Double(first.pointer[$0]) }, gamma, atol: 1e-5, rtol: 1e-5))
        // second ← second·(O∘O) keeps Σ_i second_ji = Σ_i Γ_ji² (O is orthogonal), row j of each component.
        let (d, l) = (6, 3)
        for c in 0..<2 {
            for j in 0..<d {
                let rows = (0..<l).map { (c * l + $0) * d + j }
                let norm = rows.reduce(0.0) { $0 + gamma[$1] * gamma[$1] }
                let sum = rows.reduce(0.0) { $0 + Double(second.pointer[loadings.lowerBound + $1]) }
                #expect(abs(norm - sum) <= 1e-5 * max(norm, 1e-3), "component \(c), row \(j)")
            }
        }
    }

    func innerMatrix(_ p: PrecisionParameters, component c: Int) -> [Double] {
        let (d, l) = (p.shape.dimension, p.shape.latent)
        let gamma = (0..<(d * l)).map { Double(p.precisionLoadings[c * d * l + $0]) }
        return PrecisionParameters.innerMatrix(gamma: gamma, diagonal: (0..<d).map { Double(p.precisionDiagonal[c * d + $0]) }, latent: l)
    }

    func smallestEigenvalueOfM(_ p: PrecisionParameters, component c: Int) throws -> Double {
        try SmallLinearAlgebra.symmetricEigen(innerMatrix(p, component: c), order: p.shape.latent).values[0]
    }
}

extension MixtureEngine {
    /// Loads without clipping, then runs the training projection once; returns its clip count.
    func refreshAfterLoading(_ model: PrecisionParameters, tau: Double) throws -> Int {
        try load(model)
        try refresh(options: ProjectionOptions(eigenvalueFloor: tau, logPrecisionRange: -20...20),
                    firstMoment: nil, secondMoment: nil)
        return Int(try drainClipped())
    }
}
