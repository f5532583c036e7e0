/// Whole-data-set evaluation in batches of the engine's capacity.
extension MixtureEngine {
    /// log p(x_n) for every row, and the responsibilities [N, K] if asked for.
    public func evaluate<S: SampleSource>(_ data: S, keepResponsibilities: Bool = false) throws -> (logDensity: [Double], responsibilities: [Float]?) {
        var logDensity = [Double]()
        logDensity.reserveCapacity(data.rows)
        var responsibilities: [Float]? = keepResponsibilities ? [] : nil
        for start in stride(from: 0, to: data.rows, by: capacity) {
            try loadBatch(data, rows: start..<min(start + capacity, data.rows))
            data.release(start..<min(start + capacity, data.rows))
            try forward()
            logDensity += try readLogDensity()
            if keepResponsibilities { responsibilities! += try readResponsibilities() }
        }
        return (logDensity, responsibilities)
    }

    /// Mean log-likelihood per sample.
    /// Mean log-likelihood per sample, summed batch by batch: nothing per row is kept, so a
    /// mapped file larger than memory streams (its pages released behind the batches).
    public func meanLogLikelihood<S: SampleSource>(_ data: S) throws -> Double {
        var total = 0.0
        for start in stride(from: 0, to: data.rows, by: capacity) {
            try loadBatch(data, rows: start..<min(start + capacity, data.rows))
            data.release(start..<min(start + capacity, data.rows))
            try forward()
            total += try readLogDensity().reduce(0, +)
        }
        return total / Double(max(data.rows, 1))
    }
}

extension MixtureModel {
    /// An engine holding this model exactly, ready to evaluate data (DESIGN.md §2).
    public func engine<B: Backend>(backend: B, batchSize: Int = 1024) throws -> MixtureEngine<B> {
        let engine = try MixtureEngine(backend: backend, shape: shape, capacity: batchSize,
                                       origin: meanOfMeans())
        _ = try engine.loadCanonical(self)
        return engine
    }

    /// The weighted mean of the component means: the centre for evaluation.
    func meanOfMeans() -> [Float] {
        let d = shape.dimension
        var centre = [Double](repeating: 0, count: d)
        for c in 0..<shape.components {
            for j in 0..<d { centre[j] += Double(weights[c]) * Double(means[c * d + j]) }
        }
        return centre.map(Float.init)
    }
}
