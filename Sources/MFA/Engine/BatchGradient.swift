/// The gradient of one global batch, gathered pass by pass (DESIGN.md §6): its sums stay on the
/// device when this process computes the whole batch in one pass (`BatchShare.whole`); otherwise
/// they are float64 sums of its chunks, added up across processes by the reducer, then written
/// back. The sums, not gradients, are what is added up: the gradient of the mixing logits,
/// W_k − π_k, is not a sum over rows.
struct BatchGradient<B: Backend> {
    private var share = BatchShare(rows: 0, whole: true)
    private var sums: EMStatistics?
    private var passes = 0

    /// Starts a global batch.
    mutating func begin(_ share: BatchShare, shape: MixtureShape) {
        self.share = share
        sums = share.whole ? nil : EMStatistics(shape: shape)
        passes = 0
    }

    /// Adds the pass in `engine` (after its forward pass).
    mutating func add(_ engine: MixtureEngine<B>) throws {
        passes += 1
        if sums == nil {
            guard passes == 1 else { throw MFAError.invalidArgument("a whole batch takes one pass") }
            _ = try engine.batchSums(scale: 1 / Float(share.rows))
        } else {
            try engine.addGradientSums(into: &sums!, scale: 1 / Float(share.rows))
        }
    }

    /// The batch's sums in the engine's scratch buffers, added up across processes first (for
    /// `MixtureEngine.step` and `assembleGradient`).
    mutating func finishSums(_ engine: MixtureEngine<B>, reducer: any Reducer) throws {
        guard passes > 0 || sums != nil else { throw MFAError.invalidArgument("update before accumulate") }
        guard var sums else { return }
        if reducer.processes > 1 { try sums.sum(with: reducer) }
        try engine.writeSums(sums)
    }

    /// The batch's gradient on the device.
    mutating func finish(_ engine: MixtureEngine<B>, reducer: any Reducer) throws -> B.Buffer {
        try finishSums(engine, reducer: reducer)
        return try engine.assembleGradient()
    }
}
