/// Re-seeding of components that training has starved (`--reinit-dead`). At K = 50 on
/// Fashion-MNIST a quarter of the weights fell to ~1e-5; re-seeding them did not raise the test
/// log-likelihood there (README), so it is opt-in.
public enum DeadComponents {
    /// A component is dead when its weight is below `fraction`/K.
    public static let fraction: Float = 0.1

    public static func dead(_ parameters: PrecisionParameters) -> [Int] {
        let k = parameters.shape.components
        return (0..<k).filter { parameters.weights[$0] < fraction / Float(k) }
    }

    /// Moves every dead component onto one of the worst-explained samples of a random subset of
    /// `data` (each a different sample), with the starting precision and loadings of `start` and
    /// weight 1/K; the weights are renormalised. Returns the new parameters and how many moved.
    public static func reseed<B: Backend, S: SampleSource>(_ parameters: PrecisionParameters, engine: MixtureEngine<B>, data: S,
                                   start: PrecisionParameters, random: inout RandomGenerator) throws -> (PrecisionParameters, Int) {
        let (k, d, l) = (parameters.shape.components, parameters.shape.dimension, parameters.shape.latent)
        let dead = dead(parameters)
        guard !dead.isEmpty else { return (parameters, 0) }
        let candidates = try data.gathering(rows: Initialiser.distinctIndices(min(data.rows, 20 * k), from: data.rows, random: &random))
        let scores = try engine.evaluate(candidates).logDensity
        let worst = scores.indices.sorted { scores[$0] < scores[$1] }
        var next = parameters
        for (rank, c) in dead.enumerated() {
            let sample = worst[rank % worst.count]
            for j in 0..<d {
                next.means[c * d + j] = candidates[sample, j]
                next.precisionDiagonal[c * d + j] = start.precisionDiagonal[c * d + j]
                for i in 0..<l { next.precisionLoadings[(c * d + j) * l + i] = start.precisionLoadings[(c * d + j) * l + i] }
            }
            next.weights[c] = 1 / Float(k)
        }
        let total = next.weights.reduce(0, +)
        next.weights = next.weights.map { $0 / total }
        return (next, dead.count)
    }
}
