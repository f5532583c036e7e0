/// The DGMM's loss and its gradient on one batch, in the data's own units: what tests check
/// against dense algebra and finite differences, through the same code path as training.
extension DGMMModel {
    /// −mean log p(x) over the rows of `data` and its gradient with respect to every layer's
    /// coordinates (mixing logits, means, loadings, log noise variances).
    public func lossGradient<B: Backend>(_ data: Matrix, backend: B) throws -> (loss: Double, gradient: [DGMMLayerParameters]) {
        let engine = try MixtureEngine(backend: backend, shape: try shape.pathShape, capacity: data.rows,
                                       origin: [Float](repeating: 0, count: shape.dimension))
        let session = DGMMStrategy(engine: engine, shape: shape, parameters: DGMMLayerParameters.of(self),
                                  options: TrainingOptions(), annealing: .off, units: .identity(dimension: shape.dimension), totalSteps: 1)
        try engine.loadBatch(data, rows: 0..<data.rows)
        let terms = session.parameters.pathTerms(shape)
        try session.load(terms)
        try engine.forward()
        let loss = -(try engine.readLogDensity().reduce(0, +)) / Double(data.rows)
        return (loss, try session.gradient(try engine.read(try engine.backward(), count: engine.layout.count), terms: terms))
    }
}
