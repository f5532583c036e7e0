/// What EM and online EM share in the engine: the covariance-form passes run on data centred on
/// their column means and unscaled, and every pass starts from the model made canonical.
extension MixtureEngine {
    /// An engine for `data`'s batches, refusing data whose squares overflow float32's sums.
    /// `moments` are `Standardisation.trainingMoments(data).moments`, when the caller has them already.
    static func forEM(backend: B, shape: MixtureShape, data: some SampleSource, batchSize: Int,
                      moments: ColumnMoments?) throws -> MixtureEngine {
        let moments = try moments ?? Standardisation.trainingMoments(data).moments
        try Standardisation.requireSquaresFit(variance: moments.variance)
        return try MixtureEngine(backend: backend, shape: shape, capacity: min(batchSize, data.rows),
                                 origin: moments.mean.map(Float.init))
    }
}
