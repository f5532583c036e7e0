/// How a training run saves, resumes and stops.
public struct TrainingControl {
    /// Save a checkpoint every this many steps (nil: never), through `save`.
    public var checkpointEvery: Int?
    public var save: ((TrainingCheckpoint) throws -> Void)?
    /// Continue from this checkpoint instead of starting afresh.
    public var resume: TrainingCheckpoint?
    /// Asked after every step: 0 to go on, or why to stop (the command line passes the signal's
    /// number, SIGINT or SIGTERM); the run stops after saving a checkpoint.
    public var stopRequest: () -> Int32
    /// Told the reason every process agreed to stop for (the largest any of them was asked).
    public var stopAgreed: (Int32) -> Void
    /// Told what the loop decided that a user should know (e.g. a resume on another backend).
    public var note: (String) -> Void
    /// The processes training together (data-parallel) and how they add up their sums.
    public var reducer: any Reducer

    public init(checkpointEvery: Int? = nil, save: ((TrainingCheckpoint) throws -> Void)? = nil,
                resume: TrainingCheckpoint? = nil, stopRequest: @escaping () -> Int32 = { 0 },
                stopAgreed: @escaping (Int32) -> Void = { _ in },
                note: @escaping (String) -> Void = { _ in }, reducer: any Reducer = SingleProcess()) {
        self.checkpointEvery = checkpointEvery
        self.save = save
        self.resume = resume
        self.stopRequest = stopRequest
        self.stopAgreed = stopAgreed
        self.note = note
        self.reducer = reducer
    }
}

/// What identifies a run for its checkpoints: the algorithm, every setting that changes the
/// result (compared on resume, the first difference named), and the backend (reported only).
public struct RunIdentity: Sendable, Equatable {
    public var algorithm: String
    /// Setting name → value as text; the names are the core's (e.g. "learning_rate"), which the
    /// command line translates into its own words.
    public var settings: [String: String]
    public var backend: String

    public init(algorithm: String, settings: [String: String], backend: String) {
        self.algorithm = algorithm
        self.settings = settings
        self.backend = backend
    }
}
