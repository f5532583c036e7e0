import Foundation

/// The moments training's origin and scale come from: the data's, less their gross outliers.
/// Three rows at 10⁶–10⁸ among 800 near zero dragged the mean 10⁵ from every other row and
/// inflated the scale by as much: in float32 each ordinary row then carried that offset (EM's sums
/// lost the rows' variance to cancellation) and SGD's steps, in units of the inflated scale, threw
/// the means about. Both merged the four clusters (ARI 0). The origin and scale are only the units
/// training works in: the rows left out of them are still trained on.
extension Standardisation {
    /// A row farther from the column medians than this many times the median row's distance is a
    /// gross outlier (Gaussian rows in any dimension lie within a few times of it).
    public static let outlierFactor = 100.0
    /// Evenly spaced rows that give the medians and the median distance (no random draws, so the
    /// seeds' streams are untouched).
    static let medianRows = 1001

    /// `data.columnMoments()`, or, where some rows lie more than `outlierFactor` times the median
    /// row's distance from the column medians, the moments of the other rows; then also how many
    /// were left out and the farthest of them. Outliers so far that their squares would not fit
    /// float32 in the units of the rest (10¹⁵ times its scale) keep the moments of every row.
    public static func trainingMoments(_ data: some SampleSource) throws -> (moments: ColumnMoments, outliers: Int, farthest: Int) {
        let (n, d) = (data.rows, data.columns)
        // Pass 1, block by block: every row's moments, and the evenly spaced rows.
        let m = min(n, medianRows)
        var sampled = [Double](), next = 0
        var sums = MomentSums(columns: d)
        try data.streamRows { index, row in
            sums.add(row)
            if next < m, index == next * n / m {
                sampled += row
                next += 1
            }
        }
        let all = sums.moments
        guard n > 2, d > 0 else { return (all, 0, 0) }
        let medians = columnMedians(sampled, rows: m, columns: d)
        func squaredDistance(_ row: UnsafePointer<Double>) -> Double {
            var sum = 0.0
            for j in 0..<d { sum += (row[j] - medians[j]) * (row[j] - medians[j]) }
            return sum
        }
        let distances = sampled.withUnsafeBufferPointer { rows in (0..<m).map { squaredDistance(rows.baseAddress! + $0 * d) } }.sorted()
        let typical = distances[m / 2] > 0 ? distances[m / 2] : distances.reduce(0, +) / Double(m)
        guard typical > 0 else { return (all, 0, 0) }
        // Pass 2: the moments of the rows within the limit.
        let limit = outlierFactor * outlierFactor * typical
        var bulk = MomentSums(columns: d, shift: medians)
        var (outliers, farthest, largest) = (0, 0, 0.0)
        try data.streamRows { index, row in
            let distance = squaredDistance(row.baseAddress!)
            guard distance > limit else { return bulk.add(row) }
            outliers += 1
            if distance > largest { (farthest, largest) = (index, distance) }
        }
        guard outliers > 0, largest.squareRoot() < 1e15 * scale(variance: bulk.moments.variance) else { return (all, 0, 0) }
        return (bulk.moments, outliers, farthest)
    }

    /// What training says when it leaves rows out of its origin and scale, or nil.
    public static func outlierNote(_ outliers: Int, farthest: Int) -> String? {
        guard outliers > 0 else { return nil }
        return "\(outliers) row\(outliers == 1 ? "" : "s") (the farthest: row \(farthest)) \(outliers == 1 ? "lies" : "lie") more than \(Int(outlierFactor)) times the typical row's distance from the column medians: the origin and scale that training works in leave \(outliers == 1 ? "it" : "them") out (\(outliers == 1 ? "it is" : "they are") still trained on)"
    }
}
