/// Everything an interrupted run of any algorithm needs to continue exactly where it was: the
/// strategy's state, the position in the run, the random state every epoch's order is replayed
/// from, the best restart finished so far, and what the run must agree on to resume.
public struct TrainingCheckpoint: Sendable, Equatable {
    public var identity: RunIdentity
    public var fingerprint: DataFingerprint
    /// The restart in progress (0-based), the epoch in progress (1-based), and how many of its
    /// batches are done.
    public var restart: Int
    public var epoch: Int
    public var batch: Int
    /// The generator's state when the restart's epoch loop began (after initialisation).
    public var loopRandomState: [UInt64]
    /// The epoch's running figures, for its progress line.
    public var logLikelihoodSum: Double
    public var clipped: Int
    /// The last finished epoch's training log-likelihood per sample, for the stopping rule.
    public var previousLogLikelihood: Double?
    public var state: StrategyState
    public var best: FinishedRestart?
    /// Roll-backs so far in the restart (its limit counts them) and in the epoch (its progress line).
    public var rollbacks: Int
    public var epochRollbacks: Int
    /// The probe rows' log-likelihood at the restart's start (`TrainingStrategy.undoesWorse(epoch:)`),
    /// so that a resumed run judges as the uninterrupted one.
    public var probeLogLikelihood: Double?
    /// The epoch's undone runs so far, and the state it began with, which an undo returns to.
    public var epochUndone: Int
    public var epochStart: StrategyState?

    public init(identity: RunIdentity, fingerprint: DataFingerprint, restart: Int, epoch: Int, batch: Int,
                loopRandomState: [UInt64], logLikelihoodSum: Double, clipped: Int, previousLogLikelihood: Double?,
                state: StrategyState, best: FinishedRestart?, rollbacks: Int = 0, epochRollbacks: Int = 0,
                epochUndone: Int = 0, probeLogLikelihood: Double? = nil, epochStart: StrategyState? = nil) {
        self.epochUndone = epochUndone
        self.epochStart = epochStart
        self.probeLogLikelihood = probeLogLikelihood
        self.rollbacks = rollbacks
        self.epochRollbacks = epochRollbacks
        self.identity = identity
        self.fingerprint = fingerprint
        self.restart = restart
        self.epoch = epoch
        self.batch = batch
        self.loopRandomState = loopRandomState
        self.logLikelihoodSum = logLikelihoodSum
        self.clipped = clipped
        self.previousLogLikelihood = previousLogLikelihood
        self.state = state
        self.best = best
    }

    /// Refuses a resume with another algorithm, other data or another result-changing setting,
    /// naming the first difference (settings in name order; a checkpoint that recorded fewer
    /// settings, from an earlier release, is compared on those it has).
    func checkResumable(as identity: RunIdentity, data: DataFingerprint) throws {
        guard self.identity.algorithm == identity.algorithm else {
            throw MFAError.resumeMismatch(setting: "algorithm", saved: self.identity.algorithm, current: identity.algorithm)
        }
        if let difference = fingerprint.difference(from: data) {
            throw MFAError.resumeMismatch(setting: "data", saved: difference.saved, current: difference.current)
        }
        for name in self.identity.settings.keys.sorted() where self.identity.settings[name] != identity.settings[name] {
            throw MFAError.resumeMismatch(setting: name, saved: self.identity.settings[name]!,
                                          current: identity.settings[name] ?? "(not set)")
        }
    }
}

/// A restart that ran to its end, kept while later restarts train.
public struct FinishedRestart: Sendable, Equatable {
    public var restart: Int
    /// Mean training log-likelihood per sample of its final model (the selection rule).
    public var logLikelihood: Double
    public var converged: Bool
    public var epochs: Int
    public var result: StrategyState

    public init(restart: Int, logLikelihood: Double, converged: Bool, epochs: Int, result: StrategyState) {
        self.restart = restart
        self.logLikelihood = logLikelihood
        self.converged = converged
        self.epochs = epochs
        self.result = result
    }
}
