import Foundation

/// When the DGMM's exact EM epochs try a `GroupAlignment`, and whether they keep it: once EM has
/// converged (an epoch gains less than `convergence` nats per sample), the layers are
/// re-expressed against a reference layer-1 component and EM runs on from there until it
/// converges again (or the epochs end); the realigned model is kept only if it then beats the
/// converged one, which is otherwise restored. References rotate through the layer-1 components
/// (most clusters first) until each has been tried without a gain since the last kept one.
struct Realignment {
    /// An epoch that gains less than this (nats per sample) ends EM's climb.
    static let convergence = 1e-3
    /// A proposal needs at least this many EM epochs left to climb in.
    static let leastEpochs = 10

    /// The model a proposal replaced (after its M-step) and its pass's mean log-likelihood.
    private(set) var replaced: (layers: [DGMMLayerParameters], logLikelihood: Double)?
    /// The previous EM epoch's mean log-likelihood.
    private(set) var previous = -Double.infinity
    /// References tried without a gain since the last kept proposal.
    private(set) var fruitless = 0
    private(set) var kept = 0
    private(set) var tried = 0

    enum Action { case maximise, propose(reference: Int), keep, restore([DGMMLayerParameters]) }

    /// What the epoch that ended with mean log-likelihood `logLikelihood` does, `remaining` EM
    /// epochs before the end, with `components` layer-1 components; `next` is EM's M-step.
    mutating func decide(logLikelihood: Double, remaining: Int, components: Int, next: [DGMMLayerParameters]) -> Action {
        let converged = logLikelihood - previous < Self.convergence
        previous = logLikelihood
        if let replaced {
            guard converged || remaining == 0 else { return .maximise }
            self.replaced = nil
            if logLikelihood > replaced.logLikelihood + Self.convergence {
                (kept, fruitless) = (kept + 1, 0)
                return .keep
            }
            fruitless += 1
            previous = replaced.logLikelihood
            return .restore(replaced.layers)
        }
        guard converged, remaining >= Self.leastEpochs, fruitless < components else { return .maximise }
        replaced = (next, logLikelihood)
        tried += 1
        previous = -.infinity
        return .propose(reference: fruitless)
    }

    /// The proposal could not be made (no component to realign): count the reference as tried.
    mutating func withdraw() {
        if let replaced { (self.replaced, previous) = (nil, replaced.logLikelihood) }
        (tried, fruitless) = (tried - 1, fruitless + 1)
    }
}

extension Realignment {
    /// Into a strategy's state (float64, exact), under "realignment.".
    func save(into state: inout StrategyState) {
        state.doubles["realignment.previous"] = [previous]
        state.integers["realignment.fruitless"] = fruitless
        state.integers["realignment.kept"] = kept
        state.integers["realignment.tried"] = tried
        if let replaced {
            state.doubles["realignment.replaced_log_likelihood"] = [replaced.logLikelihood]
            DGMMLayerParameters.save(replaced.layers, into: &state, prefix: "realignment.replaced.")
        }
    }

    /// From a state `save` wrote; a state without it (an older checkpoint) starts afresh.
    init(_ state: StrategyState, shape: DGMMShape) throws {
        guard let previous = state.doubles["realignment.previous"]?.first else { return }
        self.previous = previous
        fruitless = state.integers["realignment.fruitless"] ?? 0
        kept = state.integers["realignment.kept"] ?? 0
        tried = state.integers["realignment.tried"] ?? 0
        if let logLikelihood = state.doubles["realignment.replaced_log_likelihood"]?.first {
            replaced = (try DGMMLayerParameters.restore(shape, from: state, prefix: "realignment.replaced."), logLikelihood)
        }
    }

}
