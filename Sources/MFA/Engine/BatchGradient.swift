/// The gradient of one global batch, gathered pass by pass (DESIGN.md §6): on the device when this
/// process computes the whole batch in one pass (`BatchShare.whole`); otherwise as float64 sums of
/// its chunks, added up across processes by the reducer, then assembled. The sums, not gradients,
/// are what is added up: the gradient of the mixing logits, W_k − π_k, is not a sum over rows.
struct BatchGradient<B: Backend> {
    private var share = BatchShare(rows: 0, whole: true)
    private var sums: EMStatistics?
    private var whole: B.Buffer?

    /// Starts a global batch.
    mutating func begin(_ share: BatchShare, shape: MixtureShape) {
        self.share = share
        sums = share.whole ? nil : EMStatistics(shape: shape)
        whole = nil
    }

    /// Adds the pass in `engine` (after its forward pass).
    mutating func add(_ engine: MixtureEngine<B>) throws {
        if sums == nil {
            guard whole == nil else { throw MFAError.invalidArgument("a whole batch takes one pass") }
            whole = try engine.backward()
        } else {
            try engine.addGradientSums(into: &sums!, scale: 1 / Float(share.rows))
        }
    }

    /// The batch's gradient on the device, its sums added up across processes first.
    mutating func finish(_ engine: MixtureEngine<B>, reducer: any Reducer) throws -> B.Buffer {
        if let whole { return whole }
        guard var sums else { throw MFAError.invalidArgument("update before accumulate") }
        if reducer.processes > 1 { try sums.sum(with: reducer) }
        return try engine.gradient(from: sums)
    }
}
