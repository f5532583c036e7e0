/// Everything an interrupted SGD run needs to continue exactly where it was (issue 6): θ and the
/// optimizer moments as the device holds them (standardised units), λ from the last projection, the
/// position in the run, and the random state from which every epoch's shuffle is replayed.
public struct Checkpoint: Sendable, Equatable {
    public var shape: MixtureShape
    public var theta: [Float]
    public var firstMoment: [Float]
    /// Empty for SGD with momentum.
    public var secondMoment: [Float]
    public var eigenvalues: [Float]
    /// Optimizer steps taken.
    public var step: Int
    /// The learning-rate factor left by roll-backs after non-finite losses.
    public var learningRateFactor: Float = 1
    /// The epoch in progress (1-based) and how many of its batches are done.
    public var epoch: Int
    public var batch: Int
    /// The generator's state when the epoch loop began (after initialisation).
    public var loopRandomState: [UInt64]
    /// The epoch's running figures, for its progress line.
    public var logLikelihoodSum: Double
    public var clipped: Int
    /// What the run must agree on to resume: the data's size and scale, and the schedule.
    public var rows: Int
    public var scale: Float
    public var epochs: Int
    public var batchSize: Int

    public init(shape: MixtureShape, theta: [Float], firstMoment: [Float], secondMoment: [Float], eigenvalues: [Float],
                step: Int, epoch: Int, batch: Int, loopRandomState: [UInt64], logLikelihoodSum: Double, clipped: Int,
                rows: Int, scale: Float, epochs: Int, batchSize: Int) {
        self.shape = shape
        self.theta = theta
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.eigenvalues = eigenvalues
        self.step = step
        self.epoch = epoch
        self.batch = batch
        self.loopRandomState = loopRandomState
        self.logLikelihoodSum = logLikelihoodSum
        self.clipped = clipped
        self.rows = rows
        self.scale = scale
        self.epochs = epochs
        self.batchSize = batchSize
    }
}

extension Checkpoint {
    func with(learningRateFactor factor: Float) -> Checkpoint {
        var copy = self
        copy.learningRateFactor = factor
        return copy
    }
}

/// How a training run saves, resumes and stops.
public struct TrainingControl {
    /// Save a checkpoint every this many steps (nil: never), through `save`.
    public var checkpointEvery: Int?
    public var save: ((Checkpoint) throws -> Void)?
    /// Continue from this checkpoint instead of starting afresh.
    public var resume: Checkpoint?
    /// Asked after every step; true stops the run after saving a checkpoint (e.g. on SIGINT).
    public var shouldStop: () -> Bool

    public init(checkpointEvery: Int? = nil, save: ((Checkpoint) throws -> Void)? = nil, resume: Checkpoint? = nil,
                shouldStop: @escaping () -> Bool = { false }) {
        self.checkpointEvery = checkpointEvery
        self.save = save
        self.resume = resume
        self.shouldStop = shouldStop
    }
}
