/// One line of progress, reported after every epoch (EM: every iteration) of every algorithm,
/// and, when there is validation data, for the start as epoch 0 (its training log-likelihood NaN:
/// not computed).
public struct EpochReport: Sendable {
    /// The restart this epoch belongs to (0-based), of how many.
    public var restart = 0
    public var restarts = 1
    public var epoch: Int
    public var epochs: Int
    /// Mean log-likelihood per sample over the epoch's batches, each before its own update.
    public var trainLogLikelihood: Double
    /// Mean log-likelihood per sample on the validation data, if given (reported, never used).
    public var validationLogLikelihood: Double?
    public var samplesPerSecond: Double
    /// Seconds since this process began training, and the estimate of what remains (this
    /// restart's epochs and the restarts after it, at this process's pace so far).
    public var elapsedSeconds: Double
    public var remainingSeconds: Double
    /// Fraction of M_k eigenvalues the projection clipped to τ, over the epoch's steps.
    public var clippedFraction: Double
    /// Dead components re-seeded after this epoch (`TrainingOptions.reinitialiseDead`).
    public var reseeded = 0
    /// Times this epoch was rolled back after a non-finite loss, and the learning-rate factor now.
    public var rollbacks = 0
    /// Times this epoch was undone for lowering the probe rows' likelihood (SGD).
    public var undone = 0
    /// It was undone once more with its undos spent (`TrainingLoop.maximumUndos`): the restart
    /// ends with the model this epoch began with.
    public var endsRestart = false
    public var learningRateFactor: Float = 1
}

/// The pace of one process's training, for the ETA: one formula for every algorithm.
struct TrainingPace {
    let began = ContinuousClock.now
    private(set) var epochsDone = 0

    mutating func epochFinished() { epochsDone += 1 }

    var elapsed: Double { seconds(ContinuousClock.now - began) }

    /// Seconds left for `epochsLeft` more epochs at the mean pace so far.
    func remaining(epochsLeft: Int) -> Double {
        epochsDone > 0 ? elapsed / Double(epochsDone) * Double(epochsLeft) : 0
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
