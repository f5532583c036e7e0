import Foundation

/// Deterministic annealing (Ueda & Nakano 1998): early steps use tempered responsibilities
/// r_k ∝ (π_k N_k(x))^{1/T}, so that the gradient is that of the free energy T·log Σ_k exp(ℓ_k/T).
/// At high T every path shares the data; as T falls to 1 the paths separate along the data's
/// structure instead of settling wherever a random start put them (two paths on one cluster, one
/// path over two), the local optima of mixtures that random restarts alone keep falling into.
public struct Annealing: Sendable, Equatable {
    /// T at the first step; 1 turns annealing off.
    public var initialTemperature: Double
    /// The share of the steps over which T falls geometrically to 1.
    public var fraction: Double

    public init(initialTemperature: Double = 4, fraction: Double = 1.0 / 3) {
        self.initialTemperature = initialTemperature
        self.fraction = fraction
    }

    public static let off = Annealing(initialTemperature: 1, fraction: 0)

    public func validate() throws {
        guard initialTemperature >= 1, initialTemperature.isFinite else {
            throw MFAError.invalidArgument("the initial temperature must be at least 1 (got \(initialTemperature))")
        }
        guard (0...1).contains(fraction) else {
            throw MFAError.invalidArgument("the annealing fraction must lie in [0, 1] (got \(fraction))")
        }
    }

    /// T at step `step` (1-based) of `total`.
    public func temperature(step: Int, total: Int) -> Double {
        guard initialTemperature > 1, fraction > 0 else { return 1 }
        let progress = min(1, Double(step) / (fraction * Double(max(total, 1))))
        return Foundation.pow(initialTemperature, 1 - progress)
    }
}

extension MixtureEngine {
    /// Replaces the current batch's responsibilities r by r^{1/T}, renormalised (after `forward`):
    /// exp(ℓ_k/T) ∝ exp(ℓ_k)^{1/T}, so no log-likelihood needs recomputing. Responsibilities that
    /// underflowed stay zero, which at T of a few changes nothing that float32 could hold.
    public func temperResponsibilities(_ temperature: Double) throws {
        let k = shape.components
        var r = try readResponsibilities()
        let power = Float(1 / temperature)
        for n in 0..<rows {
            var total: Float = 0
            for c in 0..<k {
                r[n * k + c] = Foundation.pow(r[n * k + c], power)
                total += r[n * k + c]
            }
            for c in 0..<k { r[n * k + c] /= total }
        }
        try r.withUnsafeBufferPointer { try backend.write($0, to: responsibilities, offset: 0) }
    }
}
