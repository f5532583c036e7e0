import Foundation

/// How every trainer standardises data: x' = (x − mean)/s with one scalar s, so that learning
/// rates do not depend on the data's units (docs/DESIGN.md §1, "Standardised units").
public enum Standardisation {
    /// s = √(mean variance).
    public static func scale(variance: [Double]) -> Double {
        let meanVariance = variance.reduce(0, +) / Double(max(variance.count, 1))
        return meanVariance > 0 ? meanVariance.squareRoot() : 1
    }

    /// τ, and a' = log(s² e) ∈ [log(s²/(100·max variance)), log(s²/σ²_min)]: the upper bound is the
    /// variance floor; the lower one only keeps e away from zero.
    static func projectionOptions(variance: [Double], scale: Double, options: TrainingOptions) -> ProjectionOptions {
        let largest = max(variance.max() ?? 1, options.minVariance)
        let logSquaredScale = 2 * Foundation.log(scale)
        return ProjectionOptions(
            eigenvalueFloor: options.eigenvalueFloor,
            logPrecisionRange: Float(logSquaredScale - Foundation.log(100 * largest))...Float(logSquaredScale - Foundation.log(options.minVariance)),
            noise: options.noise)
    }

    /// What float32 storage costs columns that sit far from zero relative to their spread: samples
    /// (outside the float64 engine's reads of float64 files) and models are float32 (7 digits), so
    /// a column whose mean is 10⁴ times its standard deviation keeps about 3 digits of its
    /// variation there. One line for the worst columns, or nil.
    public static func storageNote(_ moments: ColumnMoments) -> String? {
        let ratios = zip(moments.mean, moments.variance).map { mean, variance in
            variance > 0 ? abs(mean) / variance.squareRoot() : 0
        }
        let far = ratios.indices.filter { ratios[$0] > 1e4 }.sorted { ratios[$0] > ratios[$1] }
        guard let worst = far.first else { return nil }
        let digits = max(0, 7 - Foundation.log10(ratios[worst]))
        return String(format: "%d column%@ (the worst: column %d, mean %.4g, standard deviation %.3g) sit%@ more than 10⁴ standard deviations from zero: in float32, in which samples (but float64 .npy files under --precision float64) and models are held, %@ variation keeps about %.0f digit%@. Subtract the column means from the data before training.",
                      far.count, far.count == 1 ? "" : "s", worst, moments.mean[worst], moments.variance[worst].squareRoot(),
                      far.count == 1 ? "s" : "", far.count == 1 ? "its" : "their", digits, digits.rounded() == 1 ? "" : "s")
    }

    /// Models are saved in the data's units in float32, with variances up to 100 times a column's
    /// (`projectionOptions`): refuses data whose spread would overflow them, before training
    /// rather than at the save.
    static func requireModelFits(variance: [Double]) throws {
        guard let (column, largest) = variance.enumerated().max(by: { $0.element < $1.element }) else { return }
        guard 100 * largest < Double(Float.greatestFiniteMagnitude) else {
            throw MFAError.invalidArgument(
                "column \(column) has variance \(largest): a model in the data's units, held in float32, cannot represent variances that large; rescale the data")
        }
    }

    /// EM's sums hold squares of the centred data in float32 (up to ~3.4·10³⁸): refuses columns
    /// whose spread would overflow them, instead of a NaN later.
    static func requireSquaresFit(variance: [Double]) throws {
        guard let (column, largest) = variance.enumerated().max(by: { $0.element < $1.element }) else { return }
        let reach = 10 * largest.squareRoot()
        guard reach < 1e18 else {
            throw MFAError.invalidArgument(
                "column \(column) has standard deviation \(largest.squareRoot()): squares of values that far from the mean exceed float32's range; rescale the data (or train by SGD, which standardises it)")
        }
    }
}
