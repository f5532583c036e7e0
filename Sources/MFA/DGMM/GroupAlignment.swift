import Foundation

/// Re-pairs each layer-1 component's clusters with the deeper layers' paths: a move EM and
/// gradient steps do not make (README, "The DGMM on data shaped like its authors'").
///
/// Layer-1 component g maps its latent z to x; the deeper layers are one mixture over z shared by
/// every g, so each g's data, seen in its own z coordinates, should be that same mixture. A fit can
/// converge with g's clusters paired with the deeper paths in another order than a reference
/// component's: then no shared deeper mixture fits both, and the likelihood stays nats short of
/// the truth's although every path cluster is found. At a high signal-to-noise ratio EM cannot
/// repair it: E[z | x] barely depends on the prior, so layer 1's M-step keeps its coordinates.
///
/// Per component g and deeper path q, the pass's responsibilities give the data's moments in g's
/// z coordinates (`DGMMMaximisation.layerOneMoments`). The pairing of g's clusters with the
/// reference's is the one whose affine-invariant signatures match best (relative weights, and per
/// pair of clusters the Mahalanobis distance between their means and tr(C_p⁻¹ C_q)); the reference
/// is the component the others pair with best. Then the affine map z ↦ A z + b that carries g's
/// clusters onto their partners is fitted by maximum likelihood (on the pairs whose shares agree,
/// so that a merged cluster does not pull it), and layer 1's component is re-expressed in the new
/// coordinates (Λ A⁻¹, η − Λ A⁻¹ b): the same subspace and noise, another pairing with the deeper
/// paths. `Realignment` decides when to try it and whether to keep it.
struct GroupAlignment {
    struct Cluster {
        var weight: Double
        var mean: [Double]
        var covariance: [Double]
        var precision: [Double]
    }

    /// Beyond this many deeper paths no realignment is tried (the pairing search grows as P⁴).
    static let mostDeeperPaths = 24

    let shape: DGMMShape
    /// [G_1][P]: every layer-1 component's clusters, one per deeper path (P = paths / G_1); nil
    /// where too few rows fall in the cluster to give it moments.
    let clusters: [[Cluster?]]

    /// The layers with every layer-1 component but a reference re-paired and re-expressed against
    /// it; nil when no component could be. `reference` ranks the candidate references by how well
    /// the other components' clusters pair with theirs (0: the best), modulo their number: a
    /// component whose clusters are clean pairs well with the rest, one holding a merged or split
    /// cluster pairs badly.
    func aligned(_ layers: [DGMMLayerParameters], reference rank: Int) -> [DGMMLayerParameters]? {
        // Pairing searches every injection up to 8 deeper paths and swaps beyond: keep it small.
        guard clusters.count > 1, clusters[0].count <= Self.mostDeeperPaths else { return nil }
        let signatures = clusters.map(signature)
        let components = clusters.indices
        let pairings = components.map { reference in components.map { g in g == reference ? nil : pairing(g, to: reference, signatures) } }
        let costs = components.map { reference in
            components.reduce(0.0) { total, g in g == reference ? total : total + (pairings[reference][g]?.cost ?? 1e6) }
        }
        let reference = components.sorted { costs[$0] < costs[$1] || (costs[$0] == costs[$1] && $0 < $1) }[rank % clusters.count]
        var layers = layers, changed = false
        for g in components where g != reference {
            guard let matched = pairings[reference][g]?.matched else { continue }
            // The map is fitted on clusters whose shares agree: a cluster that holds two of the
            // reference's (twice its share) would pull it off.
            let fitted = matched.filter { p, q in
                abs(signatures[g].logWeights[p] - signatures[reference].logWeights[q]) < Foundation.log(1.5)
            }
            guard fitted.count >= 2, let (a, b) = affineMap(pairs: fitted.map { (clusters[g][$0.0]!, clusters[reference][$0.1]!) }) else { continue }
            reexpress(&layers[0], component: g, a: a, b: b)
            changed = true
        }
        return changed ? layers : nil
    }

    /// Component g's populated clusters paired with the reference's (the injection whose signatures
    /// differ least), and that difference per compared term; nil where g has fewer than two
    /// populated clusters or more than the reference.
    func pairing(_ g: Int, to reference: Int, _ signatures: [Signature]) -> (matched: [(Int, Int)], cost: Double)? {
        let sources = clusters[g].indices.filter { clusters[g][$0] != nil }
        let targets = clusters[reference].indices.filter { clusters[reference][$0] != nil }
        guard sources.count >= 2, sources.count <= targets.count else { return nil }
        let order = Self.bestPermutation(targets.count) { order in
            signatures[g].distance(to: signatures[reference], pairs: sources.indices.map { (sources[$0], targets[order[$0]]) })
        }
        let matched = sources.indices.map { (sources[$0], targets[order[$0]]) }
        let terms = Double(sources.count * sources.count)
        return (matched, signatures[g].distance(to: signatures[reference], pairs: matched) / terms)
    }

    // MARK: Pairing

    /// Affine-invariant descriptors of one component's clusters (zero where a cluster is missing).
    struct Signature {
        var logWeights: [Double]
        /// [p][q]: log(1 + (m_q − m_p)ᵀ C_p⁻¹ (m_q − m_p)) and log(tr(C_p⁻¹ C_q)/r).
        var distances: [[Double]]
        var spreads: [[Double]]

        /// The mismatch of paired clusters (own p with other's q).
        func distance(to other: Signature, pairs: [(Int, Int)]) -> Double {
            var total = 0.0
            for (p, q) in pairs {
                let w = logWeights[p] - other.logWeights[q]
                total += w * w
                for (p2, q2) in pairs where p2 != p {
                    let m = distances[p][p2] - other.distances[q][q2]
                    let s = spreads[p][p2] - other.spreads[q][q2]
                    total += m * m + s * s
                }
            }
            return total
        }
    }

    func signature(_ row: [Cluster?]) -> Signature {
        let r = shape.latent[0]
        let total = row.reduce(0) { $0 + ($1?.weight ?? 0) }
        var distances = [[Double]](repeating: [Double](repeating: 0, count: row.count), count: row.count)
        var spreads = distances
        for (p, c) in row.enumerated() {
            guard let c else { continue }
            for (q, other) in row.enumerated() where q != p {
                guard let other else { continue }
                let delta = zip(other.mean, c.mean).map { $0 - $1 }
                let solved = SmallLinearAlgebra.product(c.precision, delta, r, r, 1)
                distances[p][q] = Foundation.log1p(zip(delta, solved).reduce(0) { $0 + $1.0 * $1.1 })
                var trace = 0.0
                for i in 0..<r { for j in 0..<r { trace += c.precision[i * r + j] * other.covariance[j * r + i] } }
                spreads[p][q] = Foundation.log(max(trace, .leastNormalMagnitude) / Double(r))
            }
        }
        return Signature(logWeights: row.map { Foundation.log(max($0?.weight ?? 0, .leastNormalMagnitude) / total) },
                         distances: distances, spreads: spreads)
    }

    /// The permutation of 0..<n with the least cost: every one for n ≤ 8 (Heap's algorithm),
    /// otherwise pairwise swaps from the identity while they lower the cost.
    static func bestPermutation(_ n: Int, cost: ([Int]) -> Double) -> [Int] {
        var current = Array(0..<n)
        var best = (cost(current), current)
        if n <= 8 {
            var counters = [Int](repeating: 0, count: n)
            var i = 1
            while i < n {
                if counters[i] < i {
                    current.swapAt(i % 2 == 0 ? 0 : counters[i], i)
                    let c = cost(current)
                    if c < best.0 { best = (c, current) }
                    counters[i] += 1
                    i = 1
                } else {
                    counters[i] = 0
                    i += 1
                }
            }
            return best.1
        }
        var improved = true
        while improved {
            improved = false
            for p in 0..<n { for q in (p + 1)..<n {
                var trial = best.1
                trial.swapAt(p, q)
                let c = cost(trial)
                if c < best.0 { best = (c, trial); improved = true }
            } }
        }
        return best.1
    }

    // MARK: The affine map

    /// (A, b) maximising Σ_p n_p log N(A z + b; μ_σ(p), S_σ(p)) over cluster p's moments, plus
    /// N log|det A| (the change of coordinates' Jacobian): preconditioned gradient ascent with
    /// backtracking, from the identity and from a whitening map; the better end. nil: neither start
    /// gave a finite, invertible map.
    func affineMap(pairs: [(Cluster, Cluster)]) -> (a: [Double], b: [Double])? {
        let r = shape.latent[0]
        let (source, target) = (pairs.map(\.0), pairs.map(\.1))
        let m = r + 1
        let total = source.reduce(0) { $0 + $1.weight }
        // Preconditioner: the quadratic term's Hessian ≈ N (K̄ ⊗ W̄), K̄ = mean E[z̃ z̃ᵀ], W̄ = mean S⁻¹.
        var kBar = [Double](repeating: 0, count: m * m), wBar = [Double](repeating: 0, count: r * r)
        for (p, c) in source.enumerated() {
            let w = c.weight / total
            for i in 0..<r {
                for j in 0..<r { kBar[i * m + j] += w * (c.covariance[i * r + j] + c.mean[i] * c.mean[j]) }
                kBar[i * m + r] += w * c.mean[i]
                kBar[r * m + i] += w * c.mean[i]
            }
            kBar[r * m + r] += w
            for i in 0..<(r * r) { wBar[i] += w * target[p].precision[i] }
        }
        guard let kInverse = SmallLinearAlgebra.solvePositiveDefinite(kBar, SmallLinearAlgebra.identity(m), order: m, columns: m)?.solution,
              let wInverse = SmallLinearAlgebra.solvePositiveDefinite(wBar, SmallLinearAlgebra.identity(r), order: r, columns: r)?.solution
        else { return nil }

        /// F and its gradient at Ã = [A b] (r × m, row-major); nil where A is singular.
        func objective(_ at: [Double]) -> (value: Double, gradient: [Double])? {
            var a = [Double](repeating: 0, count: r * r)
            for i in 0..<r { for j in 0..<r { a[i * r + j] = at[i * m + j] } }
            guard let (inverse, logDet) = SmallLinearAlgebra.inverse(a, order: r) else { return nil }
            var value = total * logDet
            var gradient = [Double](repeating: 0, count: r * m)
            for i in 0..<r { for j in 0..<r { gradient[i * m + j] += total * inverse[j * r + i] } }
            for (p, c) in source.enumerated() {
                let t = target[p]
                let aC = SmallLinearAlgebra.product(a, c.covariance, r, r, r)
                let waC = SmallLinearAlgebra.product(t.precision, aC, r, r, r)
                var error = SmallLinearAlgebra.product(a, c.mean, r, r, 1)
                for i in 0..<r { error[i] += at[i * m + r] - t.mean[i] }
                let wError = SmallLinearAlgebra.product(t.precision, error, r, r, 1)
                var quadratic = 0.0
                for i in 0..<r {
                    quadratic += error[i] * wError[i]
                    for j in 0..<r { quadratic += a[i * r + j] * waC[i * r + j] }
                }
                value -= 0.5 * c.weight * quadratic
                for i in 0..<r {
                    for j in 0..<r { gradient[i * m + j] -= c.weight * (waC[i * r + j] + wError[i] * c.mean[j]) }
                    gradient[i * m + r] -= c.weight * wError[i]
                }
            }
            return value.isFinite ? (value, gradient) : nil
        }

        func ascend(_ start: [Double]) -> (value: Double, map: [Double])? {
            var at = start
            guard var current = objective(at) else { return nil }
            for _ in 0..<500 {
                let direction = SmallLinearAlgebra.product(SmallLinearAlgebra.product(wInverse, current.gradient, r, r, m), kInverse, r, m, m)
                var step = 1 / total, accepted = false
                for _ in 0..<40 {
                    let trial = zip(at, direction).map { $0 + step * $1 }
                    if let next = objective(trial), next.value > current.value {
                        let gain = next.value - current.value
                        (at, current, accepted) = (trial, next, true)
                        if gain <= 1e-12 * abs(current.value) { return (current.value, at) }
                        break
                    }
                    step *= 0.5
                }
                guard accepted else { break }
            }
            return (current.value, at)
        }

        // Starts: the current coordinates (A = I), and the map whitening g's clusters' pooled
        // covariance and colouring it as the target's (Cholesky factors), each with its best b.
        func withBestShift(_ a: [Double]) -> [Double] {
            var weighted = [Double](repeating: 0, count: r * r), rhs = [Double](repeating: 0, count: r)
            for (p, c) in source.enumerated() {
                let t = target[p]
                let aMean = SmallLinearAlgebra.product(a, c.mean, r, r, 1)
                let residual = (0..<r).map { t.mean[$0] - aMean[$0] }
                let wResidual = SmallLinearAlgebra.product(t.precision, residual, r, r, 1)
                for i in 0..<r { rhs[i] += c.weight * wResidual[i]; for j in 0..<r { weighted[i * r + j] += c.weight * t.precision[i * r + j] } }
            }
            let b = SmallLinearAlgebra.solvePositiveDefinite(weighted, rhs, order: r, columns: 1)?.solution ?? [Double](repeating: 0, count: r)
            var at = [Double](repeating: 0, count: r * m)
            for i in 0..<r { for j in 0..<r { at[i * m + j] = a[i * r + j] }; at[i * m + r] = b[i] }
            return at
        }
        var starts = [withBestShift(SmallLinearAlgebra.identity(r))]
        if let sourceRoot = SmallLinearAlgebra.cholesky(pooledCovariance(source), order: r),
           let targetRoot = SmallLinearAlgebra.cholesky(pooledCovariance(target), order: r),
           let (sourceInverse, _) = SmallLinearAlgebra.inverse(sourceRoot, order: r) {
            starts.append(withBestShift(SmallLinearAlgebra.product(targetRoot, sourceInverse, r, r, r)))
        }
        guard let best = starts.compactMap(ascend).max(by: { $0.value < $1.value }) else { return nil }
        var a = [Double](repeating: 0, count: r * r), b = [Double](repeating: 0, count: r)
        for i in 0..<r { for j in 0..<r { a[i * r + j] = best.map[i * m + j] }; b[i] = best.map[i * m + r] }
        return (a, b)
    }

    /// The covariance of a component's clusters taken together (within and between).
    func pooledCovariance(_ row: [Cluster]) -> [Double] {
        let r = shape.latent[0]
        let total = row.reduce(0) { $0 + $1.weight }
        var mean = [Double](repeating: 0, count: r), second = [Double](repeating: 0, count: r * r)
        for c in row {
            let w = c.weight / total
            for i in 0..<r {
                mean[i] += w * c.mean[i]
                for j in 0..<r { second[i * r + j] += w * (c.covariance[i * r + j] + c.mean[i] * c.mean[j]) }
            }
        }
        for i in 0..<r { for j in 0..<r { second[i * r + j] -= mean[i] * mean[j] } }
        return second
    }

    /// Layer 1's component g in the coordinates z' = A z + b: x = η + Λ z = (η − Λ A⁻¹ b) + Λ A⁻¹ z'.
    func reexpress(_ layer: inout DGMMLayerParameters, component g: Int, a: [Double], b: [Double]) {
        let (d, r) = (shape.dimension, shape.latent[0])
        guard let (inverse, _) = SmallLinearAlgebra.inverse(a, order: r) else { return }
        let lambda = Array(layer.loadings[(g * d * r)..<((g + 1) * d * r)])
        let moved = SmallLinearAlgebra.product(lambda, inverse, d, r, r)
        let shift = SmallLinearAlgebra.product(moved, b, d, r, 1)
        for p in 0..<(d * r) { layer.loadings[g * d * r + p] = moved[p] }
        for j in 0..<d { layer.means[g * d + j] -= shift[j] }
    }
}

extension GroupAlignment {
    /// From an EM pass's sums (over `rows` rows) under the layers that `terms` were composed from.
    init(shape: DGMMShape, statistics: OnlineEMStatistics, terms: [PathTerms], rows: Int) throws {
        self.shape = shape
        let (d, r) = (shape.dimension, shape.latent[0])
        let deeper = shape.pathCount / shape.components[0]
        var clusters = [[Cluster?]]()
        for g in 0..<shape.components[0] {
            let share = (0..<deeper).reduce(0.0) { $0 + statistics.weights[g * deeper + $1] }
            clusters.append(try (0..<deeper).map { q -> Cluster? in
                let path = g * deeper + q
                let n = statistics.weights[path]
                // Fewer rows than a fifth of an even share (or than r + 1) do not describe a cluster.
                guard n * Double(rows) > Double(r + 1), n > 0.2 * share / Double(deeper) else { return nil }
                let (first, second, _) = try DGMMMaximisation.layerOneMoments(statistics, terms: terms[path], path: path,
                                                                               dimension: d, latent: r)
                let mean = first.map { $0 / n }
                var covariance = [Double](repeating: 0, count: r * r)
                for p in 0..<r { for s in 0..<r {
                    covariance[p * r + s] = 0.5 * (second[p * r + s] + second[s * r + p]) / n - mean[p] * mean[s]
                } }
                guard let precision = SmallLinearAlgebra.solvePositiveDefinite(covariance, SmallLinearAlgebra.identity(r),
                                                                               order: r, columns: r)?.solution else { return nil }
                return Cluster(weight: n, mean: mean, covariance: covariance, precision: precision)
            })
        }
        self.clusters = clusters
    }
}

extension SmallLinearAlgebra {
    /// A⁻¹ and log|det A| for a square A (row-major), by Gauss–Jordan elimination with partial
    /// pivoting; nil where a pivot vanishes or an entry is not finite.
    static func inverse(_ a: [Double], order n: Int) -> (inverse: [Double], logDeterminant: Double)? {
        var work = a, result = identity(n), logDet = 0.0
        for column in 0..<n {
            var pivot = column
            for row in (column + 1)..<max(n, column + 1) where abs(work[row * n + column]) > abs(work[pivot * n + column]) { pivot = row }
            let value = work[pivot * n + column]
            guard value != 0, value.isFinite else { return nil }
            if pivot != column {
                for j in 0..<n { work.swapAt(pivot * n + j, column * n + j); result.swapAt(pivot * n + j, column * n + j) }
            }
            logDet += Foundation.log(abs(value))
            for j in 0..<n { work[column * n + j] /= value; result[column * n + j] /= value }
            for row in 0..<n where row != column {
                let factor = work[row * n + column]
                guard factor != 0 else { continue }
                for j in 0..<n { work[row * n + j] -= factor * work[column * n + j]; result[row * n + j] -= factor * result[column * n + j] }
            }
        }
        return logDet.isFinite ? (result, logDet) : nil
    }
}
