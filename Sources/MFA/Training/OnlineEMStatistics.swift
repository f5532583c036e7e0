import Foundation

/// The expected complete-data statistics of an MFA (x, z, k), per sample, in the model's own
/// latent basis and the engine's coordinates (x − origin), with their joint M-step. Online EM
/// keeps a running average of them (Cappé & Moulines 2009):
///
///     N_k = E[r],  s1_k = E[r x],  s2_k = E[r x∘x],  Sz_k = E[r E[z|x]],
///     Szx_k = E[r E[z|x] xᵀ] [l, d],  Szz_k = E[r E[z zᵀ|x]] [l, l]
///
/// Nothing is d×d. The M-step is Ghahramani & Hinton's joint update of [Λ μ] from z̃ = [z; 1].
struct OnlineEMStatistics: Equatable {
    let shape: MixtureShape
    var weights: [Double]     // [K]
    var firsts: [Double]      // [K, d]
    var squares: [Double]     // [K, d]
    var latents: [Double]     // [K, l]
    var cross: [Double]       // [K, l, d]
    var second: [Double]      // [K, l, l]

    init(shape: MixtureShape) {
        self.shape = shape
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        (weights, firsts, squares) = ([Double](repeating: 0, count: k), [Double](repeating: 0, count: k * d),
                                      [Double](repeating: 0, count: k * d))
        (latents, cross, second) = ([Double](repeating: 0, count: k * l), [Double](repeating: 0, count: k * l * d),
                                    [Double](repeating: 0, count: k * l * l))
    }

    static var names: [String] { ["weights", "firsts", "squares", "latents", "cross", "second"] }
    static var fields: [WritableKeyPath<OnlineEMStatistics, [Double]>] { [\.weights, \.firsts, \.squares, \.latents, \.cross, \.second] }

    /// One batch's sums from the engine (`EMStatistics`: canonical latents u = Γ_cᵀ(x − μ)), in
    /// the basis of `model`'s loadings and divided by `rows`. With T the map u ↦ E[z | x] and
    /// C = Cov[z | x] = (I + ΛᵀΨ⁻¹Λ)⁻¹: Sz = T t, Szx = T (Σ r u xᵀ), Szz = N·C + T (Σ r u uᵀ) Tᵀ.
    init(batch: EMStatistics, rows: Int, model: MixtureModel, canonical: PrecisionParameters, eigenvalues: [Float]) throws {
        self.init(shape: model.shape)
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let kl = k * l, n = Double(rows)
        for c in 0..<k {
            weights[c] = batch.totals[kl + c] / n
            for j in 0..<d {
                firsts[c * d + j] = batch.cross[(kl + c) * d + j] / n
                squares[c * d + j] = batch.squares[c * d + j] / n
            }
        }
        guard l > 0 else { return }
        // The latent parts per component on every core; each writes its own rows of `cross`.
        let weights = weights
        let small = try cross.withUnsafeMutableBufferPointer { out in
            let out = out
            return try batch.cross.withUnsafeBufferPointer { sums in
                try concurrentMap(k) { c -> (latents: [Double], second: [Double]) in
                    let (t, covariance) = try Self.latentMap(c, model: model, canonical: canonical, eigenvalues: eigenvalues)
                    var latents = [Double](repeating: 0, count: l)
                    for p in 0..<l {
                        var latent = 0.0
                        for q in 0..<l { latent += t[p * l + q] * batch.totals[c * l + q] }
                        latents[p] = latent / n
                    }
                    for p in 0..<l {
                        let row = out.baseAddress! + (c * l + p) * d
                        for q in 0..<l {
                            let factor = t[p * l + q] / n, source = sums.baseAddress! + (c * l + q) * d
                            for j in 0..<d { row[j] += factor * source[j] }
                        }
                    }
                    let g = Array(batch.secondMoments[(c * l * l)..<((c + 1) * l * l)])
                    let tg = SmallLinearAlgebra.product(t, g, l, l, l)
                    let tgt = SmallLinearAlgebra.product(tg, SmallLinearAlgebra.transpose(t, l, l), l, l, l)
                    return (latents, (0..<(l * l)).map { (weights[c] * n * covariance[$0] + tgt[$0]) / n })
                }
            }
        }
        for c in 0..<k {
            latents.replaceSubrange((c * l)..<((c + 1) * l), with: small[c].latents)
            second.replaceSubrange((c * l * l)..<((c + 1) * l * l), with: small[c].second)
        }
    }

    /// For component c: T with E[z | x] = T u (u = Γ_cᵀ(x − μ), the engine's canonical latent),
    /// and Cov[z | x] = L⁻¹, L = I + ΛᵀΨ⁻¹Λ, both l×l in the model's basis. E[z | x] = L⁻¹ΛᵀΨ⁻¹(x − μ)
    /// and the rows of L⁻¹ΛᵀΨ⁻¹ lie in the span of Γ_c's columns, so T = (L⁻¹ΛᵀΨ⁻¹ Γ_c)(Γ_cᵀΓ_c)⁻¹.
    static func latentMap(_ c: Int, model: MixtureModel, canonical: PrecisionParameters,
                          eigenvalues: [Float]) throws -> (map: [Double], covariance: [Double]) {
        let (d, l) = (model.shape.dimension, model.shape.latent)
        var inner = SmallLinearAlgebra.identity(l)           // L
        var projected = [Double](repeating: 0, count: l * l)  // ΛᵀΨ⁻¹ Γ_c
        var gram = [Double](repeating: 0, count: l * l)       // Γ_cᵀ Γ_c
        model.loadings.withUnsafeBufferPointer { loadings in
            canonical.precisionLoadings.withUnsafeBufferPointer { gammas in
                for j in 0..<d {
                    let inversePsi = 1 / Double(model.noiseVariances[c * d + j])
                    let lambda = loadings.baseAddress! + (c * d + j) * l, gamma = gammas.baseAddress! + (c * d + j) * l
                    for p in 0..<l {
                        let (lp, gp) = (Double(lambda[p]) * inversePsi, Double(gamma[p]))
                        for q in 0..<l {
                            inner[p * l + q] += lp * Double(lambda[q])
                            projected[p * l + q] += lp * Double(gamma[q])
                            gram[p * l + q] += gp * Double(gamma[q])
                        }
                    }
                }
            }
        }
        let identity = SmallLinearAlgebra.identity(l)
        guard let covariance = SmallLinearAlgebra.solvePositiveDefinite(inner, identity, order: l, columns: l)?.solution,
              let gramInverse = SmallLinearAlgebra.solvePositiveDefinite(gram, identity, order: l, columns: l)?.solution else {
            throw MFAError.numerical("online EM: component \(c)'s latent covariance is not positive definite")
        }
        let map = SmallLinearAlgebra.product(SmallLinearAlgebra.product(covariance, projected, l, l, l), gramInverse, l, l, l)
        return (map, covariance)
    }

    /// s ← (1 − ρ) s + ρ ŝ.
    mutating func blend(_ batch: OnlineEMStatistics, rate: Double) {
        func mix(_ values: inout [Double], _ estimate: [Double]) {
            values.withUnsafeMutableBufferPointer { v in
                estimate.withUnsafeBufferPointer { e in
                    for p in v.indices { v[p] = (1 - rate) * v[p] + rate * e[p] }
                }
            }
        }
        mix(&weights, batch.weights)
        mix(&firsts, batch.firsts)
        mix(&squares, batch.squares)
        mix(&latents, batch.latents)
        mix(&cross, batch.cross)
        mix(&second, batch.second)
    }

    /// The joint M-step: with z̃ = [z; 1], A = E[r z̃ z̃ᵀ] and B = E[r z̃ xᵀ], [Λ_k μ_k]ᵀ = A⁻¹B and
    /// ψ_k = (s2_k − rowsum([Λ_k μ_k] ∘ Bᵀ)) / N_k, then the noise structure's tie and the floor.
    /// `origin` puts μ back into the data's units. A component with less weight than l + 1 rows of
    /// a batch of `rows` keeps its parameters (too few rows determine no l factors: its loadings
    /// would blow up); its weight still moves.
    /// Returns the model and how many components needed a ridge (round-off in A).
    func maximise(current: MixtureModel, origin: [Double], minVariance: Double, noise: NoiseStructure,
                  rows: Int) throws -> (model: MixtureModel, regularised: Int) {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let total = weights.reduce(0, +)
        var next = current
        var unfloored = current.noiseVariances.map(Double.init)
        let least = max(1e-10, Double(l + 1) / Double(max(rows, 1))) * total
        // Components on every core; each writes its own rows of the loadings, means and ψ.
        let ridges = try next.loadings.withUnsafeMutableBufferPointer { loadings in
            try next.means.withUnsafeMutableBufferPointer { means in
                try unfloored.withUnsafeMutableBufferPointer { unfloored in
                    let (loadings, means, unfloored) = (loadings, means, unfloored)
                    return try concurrentMap(k) { c -> Bool in
                        guard weights[c] > least else { return false }
                        let n = weights[c], m = l + 1
                        var a = [Double](repeating: 0, count: m * m), b = [Double](repeating: 0, count: m * d)
                        for p in 0..<l {
                            for q in 0..<l { a[p * m + q] = second[(c * l + p) * l + q] }
                            (a[p * m + l], a[l * m + p]) = (latents[c * l + p], latents[c * l + p])
                            for j in 0..<d { b[p * d + j] = cross[(c * l + p) * d + j] }
                        }
                        a[l * m + l] = n
                        for j in 0..<d { b[l * d + j] = firsts[c * d + j] }
                        guard let (inverse, ridged) = SmallLinearAlgebra.solvePositiveDefinite(a, SmallLinearAlgebra.identity(m), order: m, columns: m) else {
                            throw MFAError.numerical("online EM M-step: component \(c)'s latent moment matrix is not positive definite")
                        }
                        let w = SmallLinearAlgebra.product(inverse, b, m, m, d)
                        for j in 0..<d {
                            var explained = 0.0
                            for p in 0..<m { explained += w[p * d + j] * b[p * d + j] }
                            for p in 0..<l { loadings[(c * d + j) * l + p] = Float(w[p * d + j]) }
                            means[c * d + j] = Float(w[l * d + j] + origin[j])
                            unfloored[c * d + j] = (squares[c * d + j] - explained) / n
                        }
                        return ridged
                    }
                }
            }
        }
        let regularised = ridges.filter { $0 }.count
        noise.tie(&unfloored, shape: shape, weights: weights)
        next.noiseVariances = unfloored.map { Float(max($0, minVariance)) }
        next.weights = EMMaximisation.mixingWeights(weights)
        return (try MixtureModel(shape: shape, weights: next.weights, means: next.means, loadings: next.loadings,
                                 noiseVariances: next.noiseVariances), regularised)
    }
}
