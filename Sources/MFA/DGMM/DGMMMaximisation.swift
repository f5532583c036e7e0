import Foundation

/// The exact M-step of a DGMM (DESIGN.md §3): with the path s and every latent z_1…z_L known, the
/// complete-data log-likelihood splits into one linear-Gaussian regression per layer component,
/// z_{i−1} ≈ η + Λ z_i with noise Ψ (z_0 = x), and log π per layer. Its expectation needs, per
/// path, the posterior moments of consecutive latents. Layer 1's come from the engine's EM sums
/// for the path as an MFA component (`OnlineEMStatistics`: its latent u ~ N(0, I), z_1 = m_1 + C u
/// with C Cᵀ = S_1, as `pathMixture` builds it; indices 0-based as in `PathTerms`, so S_1 is
/// DESIGN.md's S_2); deeper ones follow exactly, because z_{i+1} is
/// independent of x given z_i (a Markov chain, smoothed as a Kalman smoother would):
///
///     E[z_{i+1} | z_i] = m_{i+1} + K (z_i − m_i),  K = S_{i+1} Λ_iᵀ S_i⁻¹,  Cov = S_{i+1} − K Λ_i S_{i+1}.
///
/// So an EM iteration is one pass of the engine plus small host algebra, and the likelihood never
/// decreases (up to round-off): what SGD lacks at a high signal-to-noise ratio, where it stalls
/// nats short of the optimum (README, "The DGMM on data shaped like its authors'").
struct DGMMMaximisation {
    let shape: DGMMShape
    /// ψ of layers below the first stays above this share of the mean E[z²] of its component.
    let relativeFloor = 1e-10
    /// Per layer i and component g: A = Σ r E[z̃ z̃ᵀ] (z̃ = [z_{i+1}; 1]), B = Σ r E[z̃ z_iᵀ],
    /// the diagonal of Σ r E[z_i z_iᵀ], and Σ r.
    private var a: [[Double]], b: [[Double]], squares: [[Double]], weights: [[Double]]

    init(shape: DGMMShape) {
        self.shape = shape
        (a, b, squares, weights) = ([], [], [], [])
        for i in 0..<shape.layers {
            let (g, n, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            a.append([Double](repeating: 0, count: g * (r + 1) * (r + 1)))
            b.append([Double](repeating: 0, count: g * (r + 1) * n))
            squares.append([Double](repeating: 0, count: g * n))
            weights.append([Double](repeating: 0, count: g))
        }
    }

    /// Adds every path's expected sums. `statistics` are the engine's sums for the paths as an MFA
    /// in the same (standardised) coordinates as `terms`, u in the basis of `pathMixture`'s loadings.
    mutating func add(_ statistics: OnlineEMStatistics, terms: [PathTerms]) throws {
        let (d, r1) = (shape.dimension, shape.latent[0])
        for (path, t) in terms.enumerated() {
            let n = statistics.weights[path]
            guard n > 0 else { continue }
            var (first, second, cross) = try Self.layerOneMoments(statistics, terms: t, path: path, dimension: d, latent: r1)
            let s1 = Array(statistics.firsts[(path * d)..<((path + 1) * d)])
            add(layer: 0, component: t.choices[0], weight: n, latentFirst: first, latentSecond: second, cross: cross,
                inputFirst: s1, inputSquares: Array(statistics.squares[(path * d)..<((path + 1) * d)]))
            // Deeper levels: z_{i+1} given z_i.
            for i in 1..<shape.layers {
                let (input, r) = (shape.inputDimension(layer: i), shape.latent[i])
                let (mi, mNext, si, sNext) = (t.means[i], t.means[i + 1], t.inner[i], t.inner[i + 1])
                let lambda = t.loadings(i)
                // K = S_{i+1} Λᵀ S_i⁻¹, i.e. Kᵀ = S_i⁻¹ Λ S_{i+1} (S_i symmetric).
                let lambdaS = SmallLinearAlgebra.product(lambda, sNext, input, r, r)
                guard let kT = SmallLinearAlgebra.solvePositiveDefinite(si, lambdaS, order: input, columns: r)?.solution else {
                    throw MFAError.numerical("DGMM EM: path \(path)'s layer-\(i + 1) covariance is not positive definite")
                }
                let k = SmallLinearAlgebra.transpose(kT, input, r)                   // r × input
                let kLambdaS = SmallLinearAlgebra.product(k, lambdaS, r, input, r)
                let centred = (0..<input).map { first[$0] - n * mi[$0] }            // Σ r E[z_i − m_i]
                let kCentred = SmallLinearAlgebra.product(k, centred, r, input, 1)
                let nextFirst = (0..<r).map { n * mNext[$0] + kCentred[$0] }
                // Σ r E[(z_i − m_i)(z_i − m_i)ᵀ] = B − m aᵀ − a mᵀ + N m mᵀ (a = Σ r E[z_i]).
                var spread = second
                for p in 0..<input { for q in 0..<input {
                    spread[p * input + q] += -mi[p] * first[q] - first[p] * mi[q] + n * mi[p] * mi[q]
                } }
                var nextSecond = SmallLinearAlgebra.product(SmallLinearAlgebra.product(k, spread, r, input, input),
                                                            SmallLinearAlgebra.transpose(k, r, input), r, input, r)
                for p in 0..<r { for q in 0..<r {
                    nextSecond[p * r + q] += n * (sNext[p * r + q] - kLambdaS[p * r + q]) + n * mNext[p] * mNext[q]
                        + mNext[p] * kCentred[q] + kCentred[p] * mNext[q]
                } }
                // Σ r E[z_{i+1} z_iᵀ] = m_{i+1} aᵀ + K (B − m_i aᵀ).
                var shifted = second
                for p in 0..<input { for q in 0..<input { shifted[p * input + q] -= mi[p] * first[q] } }
                var nextCross = SmallLinearAlgebra.product(k, shifted, r, input, input)
                for p in 0..<r { for q in 0..<input { nextCross[p * input + q] += mNext[p] * first[q] } }
                add(layer: i, component: t.choices[i], weight: n, latentFirst: nextFirst, latentSecond: nextSecond,
                    cross: nextCross, inputFirst: first, inputSquares: (0..<input).map { second[$0 * input + $0] })
                (first, second, cross) = (nextFirst, nextSecond, nextCross)
            }
        }
    }

    /// Path `path`'s expected layer-1 latent sums from the engine's EM sums: Σ r E[z_1],
    /// Σ r E[z_1 z_1ᵀ] and Σ r E[z_1] xᵀ (z_1 = m_1 + C u, C Cᵀ = S_1), in `terms`' coordinates.
    static func layerOneMoments(_ statistics: OnlineEMStatistics, terms t: PathTerms, path: Int, dimension d: Int,
                                latent r1: Int) throws -> (first: [Double], second: [Double], cross: [Double]) {
        let n = statistics.weights[path]
        guard let root = SmallLinearAlgebra.cholesky(t.inner[1], order: r1) else {
            throw MFAError.numerical("DGMM EM: path \(path)'s latent covariance is not positive definite")
        }
        let m1 = t.means[1]
        let su = Array(statistics.latents[(path * r1)..<((path + 1) * r1)])
        let sux = Array(statistics.cross[(path * r1 * d)..<((path + 1) * r1 * d)])
        let suu = Array(statistics.second[(path * r1 * r1)..<((path + 1) * r1 * r1)])
        let s1 = Array(statistics.firsts[(path * d)..<((path + 1) * d)])
        let cSu = SmallLinearAlgebra.product(root, su, r1, r1, 1)
        let first = (0..<r1).map { n * m1[$0] + cSu[$0] }
        var cross = SmallLinearAlgebra.product(root, sux, r1, r1, d)
        for p in 0..<r1 { for j in 0..<d { cross[p * d + j] += m1[p] * s1[j] } }
        var second = SmallLinearAlgebra.product(SmallLinearAlgebra.product(root, suu, r1, r1, r1),
                                                SmallLinearAlgebra.transpose(root, r1, r1), r1, r1, r1)
        for p in 0..<r1 { for q in 0..<r1 { second[p * r1 + q] += n * m1[p] * m1[q] + m1[p] * cSu[q] + cSu[p] * m1[q] } }
        return (first, second, cross)
    }

    private mutating func add(layer i: Int, component g: Int, weight n: Double, latentFirst: [Double], latentSecond: [Double],
                              cross: [Double], inputFirst: [Double], inputSquares: [Double]) {
        let (input, r) = (shape.inputDimension(layer: i), shape.latent[i])
        let m = r + 1
        let (aAt, bAt) = (g * m * m, g * m * input)
        for p in 0..<r {
            for q in 0..<r { a[i][aAt + p * m + q] += latentSecond[p * r + q] }
            a[i][aAt + p * m + r] += latentFirst[p]
            a[i][aAt + r * m + p] += latentFirst[p]
            for j in 0..<input { b[i][bAt + p * input + j] += cross[p * input + j] }
        }
        a[i][aAt + r * m + r] += n
        for j in 0..<input {
            b[i][bAt + r * input + j] += inputFirst[j]
            squares[i][g * input + j] += inputSquares[j]
        }
        weights[i][g] += n
    }

    /// Each component's regression [Λ η]ᵀ = A⁻¹B and ψ = (diag Σ r E[z_i z_iᵀ] − rowsum(W ∘ B)) / N,
    /// floored; the logits are log N_g. A component with the weight of fewer than r + 1 of the
    /// `rows` keeps its parameters (too little data determine its loadings). A moment matrix that
    /// round-off left indefinite is ridged (`solvePositiveDefinite`).
    func maximise(_ current: [DGMMLayerParameters], floor: (_ layer: Int, _ index: Int) -> Double, rows: Int) throws -> [DGMMLayerParameters] {
        var next = current
        for i in 0..<shape.layers {
            let (components, input, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            let m = r + 1
            let total = weights[i].reduce(0, +)
            let least = max(1e-10, Double(m) / Double(max(rows, 1))) * total
            for g in 0..<components {
                next[i].logits[g] = Foundation.log(max(weights[i][g], 1e-10 * total) / total)
                guard weights[i][g] > least else { continue }
                let aG = Array(a[i][(g * m * m)..<((g + 1) * m * m)]), bG = Array(b[i][(g * m * input)..<((g + 1) * m * input)])
                guard let w = SmallLinearAlgebra.solvePositiveDefinite(aG, bG, order: m, columns: input)?.solution else {
                    throw MFAError.numerical("DGMM EM: layer \(i + 1) component \(g + 1)'s expected sums are not finite"
                                             + " (in float32, data of this range can overflow them: try --precision float64)")
                }
                // Below layer 1, ψ is floored relative to the component's E[z∘z] as well: S_i =
                // Λ S Λᵀ + Ψ must stay factorable in float64 where Λ S Λᵀ is rank-deficient.
                let meanSquare = (0..<input).reduce(0.0) { $0 + squares[i][g * input + $1] } / (Double(input) * weights[i][g])
                let relative = i == 0 ? -Double.infinity : Foundation.log(max(relativeFloor * meanSquare, .leastNormalMagnitude))
                for j in 0..<input {
                    var explained = 0.0
                    for p in 0..<m { explained += w[p * input + j] * bG[p * input + j] }
                    for p in 0..<r { next[i].loadings[(g * input + j) * r + p] = w[p * input + j] }
                    next[i].means[g * input + j] = w[r * input + j]
                    let variance = (squares[i][g * input + j] - explained) / weights[i][g]
                    next[i].logNoise[g * input + j] = max(variance > 0 ? Foundation.log(variance) : -.infinity,
                                                          floor(i, g * input + j), relative)
                }
            }
        }
        return next
    }
}
