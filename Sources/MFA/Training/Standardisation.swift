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
