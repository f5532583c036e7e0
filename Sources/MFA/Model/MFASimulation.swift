import Foundation

/// Random MFAs with known structure, for tests and for users who want hard cases with ground
/// truth: wide numerical ranges, columns far from zero, strongly elongated components.
///
/// In unit coordinates each component has means ~ N(0, separation²), loadings ~ N(0, 1) and one
/// noise variance per component, ν_k = λ_max(Λ_k Λ_kᵀ) / signalToNoise, so that the ratio of the
/// component's largest covariance eigenvalue to its noise variance is about `signalToNoise`.
/// Then each column j is put in its own units, x_j ↦ o_j + c_j x_j, with c_j log-uniform in
/// [1, columnScale] and o_j uniform in [−offset, offset].
public enum MFASimulation {
    public struct Settings: Sendable, Equatable {
        public var separation = 3.0
        public var signalToNoise = 10.0
        public var columnScale = 1.0
        public var offset = 0.0

        public init(separation: Double = 3, signalToNoise: Double = 10, columnScale: Double = 1, offset: Double = 0) {
            self.separation = separation
            self.signalToNoise = signalToNoise
            self.columnScale = columnScale
            self.offset = offset
        }

        public func validate() throws {
            guard separation > 0, separation.isFinite else { throw MFAError.invalidArgument("the separation must be positive") }
            guard signalToNoise >= 1, signalToNoise.isFinite else { throw MFAError.invalidArgument("the signal-to-noise ratio must be at least 1") }
            guard columnScale >= 1, columnScale.isFinite else { throw MFAError.invalidArgument("the column scale must be at least 1") }
            guard offset >= 0, offset.isFinite else { throw MFAError.invalidArgument("the offset must not be negative") }
        }
    }

    public static func model(_ shape: MixtureShape, settings: Settings, random: inout RandomGenerator) throws -> MixtureModel {
        try settings.validate()
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let scale = (0..<d).map { _ in Foundation.exp(random.uniform() * Foundation.log(settings.columnScale)) }
        let origin = (0..<d).map { _ in settings.offset * (2 * random.uniform() - 1) }
        var means = [Float](), loadings = [Float](), noise = [Float]()
        for _ in 0..<k {
            let mu = (0..<d).map { _ in settings.separation * random.normal() }
            let lambda = (0..<(d * l)).map { _ in random.normal() }
            var gram = [Double](repeating: 0, count: l * l)  // ΛᵀΛ: its largest eigenvalue is ΛΛᵀ's
            for j in 0..<d { for p in 0..<l { for q in 0..<l { gram[p * l + q] += lambda[j * l + p] * lambda[j * l + q] } } }
            let largest = l > 0 ? try SmallLinearAlgebra.symmetricEigen(gram, order: l).values.last! : 1
            let nu = largest / settings.signalToNoise
            means += (0..<d).map { Float(origin[$0] + scale[$0] * mu[$0]) }
            loadings += (0..<(d * l)).map { Float(scale[$0 / l] * lambda[$0]) }
            noise += (0..<d).map { Float(scale[$0] * scale[$0] * nu) }
        }
        return try MixtureModel(shape: shape, weights: [Float](repeating: 1 / Float(k), count: k), means: means,
                                loadings: loadings, noiseVariances: noise)
    }
}
