/// How a training run saves, resumes and stops.
public struct TrainingControl {
    /// Save a checkpoint every this many steps (nil: never), through `save`.
    public var checkpointEvery: Int?
    public var save: ((TrainingCheckpoint) throws -> Void)?
    /// Continue from this checkpoint instead of starting afresh.
    public var resume: TrainingCheckpoint?
    /// Asked after every step; true stops the run after saving a checkpoint (SIGINT, SIGTERM).
    public var shouldStop: () -> Bool
    /// Told what the loop decided that a user should know (e.g. a resume on another backend).
    public var note: (String) -> Void

    public init(checkpointEvery: Int? = nil, save: ((TrainingCheckpoint) throws -> Void)? = nil,
                resume: TrainingCheckpoint? = nil, shouldStop: @escaping () -> Bool = { false },
                note: @escaping (String) -> Void = { _ in }) {
        self.checkpointEvery = checkpointEvery
        self.save = save
        self.resume = resume
        self.shouldStop = shouldStop
        self.note = note
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
