import CBLAS
import Foundation

/// A sample's rows less an origin in their bulk (each column's median), the origin, and each
/// centred row's squared norm: what the start's distances by GEMM are computed on (computed once,
/// by `Initialiser.kmeans`).
typealias CentredRows = (values: [Float], origin: [Float], squaredNorms: [Double])

extension Initialiser {
    /// Greedy k-means++ seeding on a sample, then Lloyd iterations. Distances are ‖x‖² − 2 x·c + ‖c‖² with
    /// the products as GEMM on rows and centres less the sample's median (distances do not
    /// change; float32 cancellation would, for data far from zero). A distance within the GEMM's
    /// rounding of 0 is recomputed from the differences, in float64: a row far from the bulk
    /// would otherwise keep a spurious distance to itself and be drawn again and again.
    static func kmeans<S: SampleSource>(_ data: S, components k: Int, options: TrainingOptions,
                                        random: inout RandomGenerator) throws -> (centres: [Float], sample: Matrix, centred: CentredRows) {
        let d = data.columns
        guard min(options.kmeansSampleSize, data.rows) >= k else {
            throw MFAError.invalidArgument("the k-means sample of \(options.kmeansSampleSize) rows is smaller than K = \(k) (--kmeans-sample)")
        }
        let sample = try data.gathering(rows: distinctIndices(min(options.kmeansSampleSize, data.rows), from: data.rows,
                                                              random: &random))
        let n = sample.rows
        var centres = [Float]()
        var distance = [Double](repeating: .infinity, count: n)
        let centred = Self.centred(sample)
        let norms = centred.squaredNorms
        // Greedy k-means++ (scikit-learn's KMeans default): each new centre is the best of
        // 2 + ⌊ln K⌋ rows drawn by D², the one that leaves the smallest total D²; the candidates'
        // distances are one GEMM.
        let trials = 2 + Int(Foundation.log(Double(max(k, 1))))
        var products = [Float](repeating: 0, count: n * trials)
        func distances(to rows: [Int]) -> [[Double]] {
            let m = rows.count
            var candidates = [Float](repeating: 0, count: m * d)
            for (t, row) in rows.enumerated() {
                for j in 0..<d { candidates[t * d + j] = centred.values[row * d + j] }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n), blasint(m), blasint(d), 1, centred.values,
                        blasint(d), candidates, blasint(d), 0, &products, blasint(m))
            return rows.indices.map { t in
                let (c, norm) = (rows[t], norms[rows[t]])
                return (0..<n).map { r in
                    var squared = norms[r] - 2 * Double(products[r * m + t]) + norm
                    if squared <= 1e-4 * (norms[r] + norm) { squared = exactDistance(centred.values, r, c, d) }
                    return min(distance[r], squared)
                }
            }
        }
        let first = Int(random.next() % UInt64(n))
        centres.append(contentsOf: sample.row(first))
        distance = distances(to: [first])[0]
        for _ in 1..<max(k, 1) {
            let rows = (0..<trials).map { _ in random.index(weightedBy: distance) }
            let options = distances(to: rows)
            let best = options.indices.min { options[$0].reduce(0, +) < options[$1].reduce(0, +) }!
            distance = options[best]
            centres.append(contentsOf: sample.row(rows[best]))
        }
        for _ in 0..<options.kmeansIterations {
            let labels = nearestCentres(centred, centres: centres)
            // Each cluster's mean, summed in float64 on the centred rows.
            var sums = [Double](repeating: 0, count: k * d)
            var counts = [Int](repeating: 0, count: k)
            centred.values.withUnsafeBufferPointer { x in
                sums.withUnsafeMutableBufferPointer { sums in
                    for (r, c) in labels.enumerated() {
                        counts[c] += 1
                        let (row, sum) = (x.baseAddress! + r * d, sums.baseAddress! + c * d)
                        for j in 0..<d { sum[j] += Double(row[j]) }
                    }
                }
            }
            for c in 0..<k where counts[c] > 0 {  // an empty cluster keeps its centre
                for j in 0..<d { centres[c * d + j] = Float(sums[c * d + j] / Double(counts[c]) + Double(centred.origin[j])) }
            }
        }
        return (centres, sample, centred)
    }

    /// Each centred row's nearest centre: argmin_c ‖c‖² − 2 x·c, the products as one GEMM.
    static func nearestCentres(_ rows: CentredRows, centres: [Float]) -> [Int] {
        let d = rows.origin.count
        let (n, k) = (rows.squaredNorms.count, centres.count / max(d, 1))
        let centredCentres = (0..<(k * d)).map { centres[$0] - rows.origin[$0 % d] }
        var products = [Float](repeating: 0, count: n * k)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n), blasint(k), blasint(d), 1, rows.values, blasint(d),
                    centredCentres, blasint(d), 0, &products, blasint(k))
        let norms = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + centredCentres[c * d + $1] * centredCentres[c * d + $1] } }
        return (0..<n).map { r in
            var best = 0, bestDistance = Float.infinity
            for c in 0..<k where norms[c] - 2 * products[r * k + c] < bestDistance {
                (best, bestDistance) = (c, norms[c] - 2 * products[r * k + c])
            }
            return best
        }
    }

    /// ‖x_r − x_c‖² of two centred rows, summed in float64.
    static func exactDistance(_ values: [Float], _ r: Int, _ c: Int, _ d: Int) -> Double {
        var sum = 0.0
        for j in 0..<d {
            let difference = Double(values[r * d + j]) - Double(values[c * d + j])
            sum += difference * difference
        }
        return sum
    }

    /// The rows less the origin, the origin (each column's median over the first 1,001 rows, a
    /// random sample already: a few far rows move it little, where they would drag the mean away
    /// from the bulk and leave every bulk row's norm large), and each centred row's squared norm.
    static func centred(_ sample: Matrix) -> CentredRows {
        let (n, d) = (sample.rows, sample.columns)
        let origin = columnMedians(sample.values, rows: min(n, 1001), columns: d)
        var values = sample.values
        var norms = [Double](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { x in
            for r in 0..<n {
                var norm = 0.0
                for j in 0..<d {
                    x[r * d + j] -= origin[j]
                    norm += Double(x[r * d + j]) * Double(x[r * d + j])
                }
                norms[r] = norm
            }
        }
        return (values, origin, norms)
    }
}
