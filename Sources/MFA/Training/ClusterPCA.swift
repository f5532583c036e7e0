import CBLAS
import Foundation

/// A factor-analysis start from k-means clusters (the start that let EM reach its best figures on
/// Fashion-MNIST, docs/DESIGN.md §7): each component's weight is its cluster's share of the sample,
/// its mean the centre, its loadings the cluster's l leading directions scaled by √(v_i − σ̄²)
/// (v_i their variances, σ̄² the mean variance left over), and ψ the variance the loadings leave
/// per coordinate. The directions come from block power iterations on the cluster's rows, so no
/// d×d matrix is formed.
struct ClusterPCA {
    let sample: Matrix
    /// `sample` less its median (from `Initialiser.kmeans`).
    let centredSample: CentredRows
    let centres: [Float]
    let latent: Int
    let minVariance: Double
    let noise: NoiseStructure
    /// Block power iterations; four separate the leading directions well enough for a start.
    var iterations = 4

    func model(random: inout RandomGenerator) throws -> MixtureModel {
        let (n, d, l) = (sample.rows, sample.columns, latent)
        let k = centres.count / max(d, 1)
        let labels = Initialiser.nearestCentres(centredSample, centres: centres)
        var weights = [Float](), loadings = [Float](), noiseVariances = [Double]()
        for c in 0..<k {
            let rows = labels.indices.filter { labels[$0] == c }
            weights.append(Float(max(rows.count, 1)) / Float(n + k))
            var centred = [Double](repeating: 0, count: rows.count * d)
            var variance = [Double](repeating: 0, count: d)
            for (p, r) in rows.enumerated() {
                for j in 0..<d {
                    let value = Double(sample[r, j]) - Double(centres[c * d + j])
                    centred[p * d + j] = value
                    variance[j] += value * value / Double(rows.count)
                }
            }
            let (directions, spread) = leadingDirections(centred, rows: rows.count, dimension: d, random: &random)
            let leftOver = max((variance.reduce(0, +) - spread.reduce(0, +)) / Double(max(d - l, 1)), minVariance)
            var psi = variance
            var block = [Float](repeating: 0, count: d * l)
            for i in 0..<l {
                let size = (max(spread[i] - leftOver, 0) + 1e-3 * leftOver).squareRoot()
                for j in 0..<d {
                    block[j * l + i] = Float(directions[i][j] * size)
                    psi[j] -= Double(block[j * l + i]) * Double(block[j * l + i])
                }
            }
            loadings += block
            noiseVariances += psi.map { max($0, minVariance) }
        }
        noise.tie(&noiseVariances, shape: try MixtureShape(components: k, dimension: d, latent: l),
                  weights: weights.map(Double.init))
        let total = weights.reduce(0, +)
        return try MixtureModel(shape: try MixtureShape(components: k, dimension: d, latent: l), weights: weights.map { $0 / total },
                                means: centres, loadings: loadings, noiseVariances: noiseVariances.map { Float(max($0, minVariance)) })
    }

    /// The l leading directions of the rows (orthonormal, largest first) and the variance along
    /// each: Q ← orth(Xᵀ X Q) from a random Q, `iterations` times. X is n×d row-major.
    func leadingDirections(_ x: [Double], rows n: Int, dimension d: Int,
                           random: inout RandomGenerator) -> (directions: [[Double]], spread: [Double]) {
        let l = latent
        var q = (0..<l).map { _ in (0..<d).map { _ in random.normal() } }
        orthonormalise(&q)
        // Y = X Qᵀ (n×l), then Q ← orth(Yᵀ X): two GEMMs a pass.
        var flat = [Double](repeating: 0, count: l * d)
        var y = [Double](repeating: 0, count: max(n * l, 1))
        var spread = [Double](repeating: 0, count: l)
        for pass in 0...iterations {
            for i in 0..<l { for j in 0..<d { flat[i * d + j] = q[i][j] } }
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n), blasint(l), blasint(d), 1, x, blasint(d),
                        flat, blasint(d), 0, &y, blasint(l))
            spread = (0..<l).map { i in (0..<n).reduce(0.0) { $0 + y[$1 * l + i] * y[$1 * l + i] } }
            guard pass < iterations else { break }
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(l), blasint(d), blasint(n), 1, y, blasint(l),
                        x, blasint(d), 0, &flat, blasint(d))
            q = (0..<l).map { Array(flat[($0 * d)..<(($0 + 1) * d)]) }
            orthonormalise(&q)
        }
        spread = spread.map { $0 / Double(max(n, 1)) }
        let order = spread.indices.sorted { spread[$0] > spread[$1] }
        return (order.map { q[$0] }, order.map { spread[$0] })
    }

    /// Modified Gram–Schmidt; a vector that vanishes is replaced by a unit vector orthogonal to the rest.
    func orthonormalise(_ vectors: inout [[Double]]) {
        for i in vectors.indices {
            for p in 0..<i {
                let overlap = zip(vectors[i], vectors[p]).reduce(0.0) { $0 + $1.0 * $1.1 }
                for j in vectors[i].indices { vectors[i][j] -= overlap * vectors[p][j] }
            }
            var norm = vectors[i].reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            if norm < 1e-12 {
                vectors[i] = vectors[i].indices.map { $0 == i % vectors[i].count ? 1 : 0 }
                for p in 0..<i {
                    let overlap = zip(vectors[i], vectors[p]).reduce(0.0) { $0 + $1.0 * $1.1 }
                    for j in vectors[i].indices { vectors[i][j] -= overlap * vectors[p][j] }
                }
                norm = max(vectors[i].reduce(0.0) { $0 + $1 * $1 }.squareRoot(), 1e-300)
            }
            for j in vectors[i].indices { vectors[i][j] /= norm }
        }
    }
}
