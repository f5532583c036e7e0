/// What one training algorithm supplies to `TrainingLoop`: a step on the batch the loop loaded
/// into its engine, an end-of-epoch hook, and its state, saved and restored exactly. Everything
/// every algorithm needs (batch order and paging, validation, the stopping rule, progress,
/// restarts, checkpoints, interruption, roll-back) is the loop's, written once.
public protocol TrainingStrategy: AnyObject {
    associatedtype B: Backend
    /// What a finished restart yields (the model, in the data's units).
    associatedtype Result

    /// The engine whose batch buffer the loop fills before every `accumulate`.
    var engine: MixtureEngine<B> { get }
    /// Whether the loop visits the rows in a new random order every epoch (gradient methods) or
    /// in file order (EM, whose epoch is one pass of sums).
    var shufflesRows: Bool { get }
    /// Steps taken so far (the schedule's clock, and `checkpointEvery`'s).
    var stepCount: Int { get }
    /// Multiplies every learning rate; the loop halves it after each roll-back.
    var learningRateFactor: Float { get set }
    /// Whether repeating an epoch after halving `learningRateFactor` can end differently (false
    /// for EM, whose pass is deterministic and rate-free: a fault there is final).
    var backsOff: Bool { get }
    /// Whether epoch `epoch` (1-based), should it leave the loop's probe rows less likely than the
    /// restart's start did, is undone and run again at half the rate (SGD: its normalised steps
    /// can walk away from a good start; the DGMM's gradient epochs in a run without annealing). A
    /// function of the epoch's number alone, so that a resumed run decides as the uninterrupted one.
    func undoesWorse(epoch: Int) -> Bool
    /// No model the strategy can hold has a mean log-likelihood per sample above this (data
    /// units); a probe score above it is round-off gone wrong, and the epoch is undone.
    var logLikelihoodCeiling: Double { get }
    /// True once the restart has nothing left to do (checked after every epoch; a function of the
    /// saved state, so that a resumed run ends where the uninterrupted one did).
    var isFinished: Bool { get }

    /// Called before an epoch's first batch (EM: puts the current model into the engine), with
    /// the epoch's number (1-based).
    func beginEpoch(_ epoch: Int) throws
    /// Called before the passes of every global batch (one per chunk this process computes).
    func beginBatch(_ batch: BatchShare) throws
    /// The pass in the engine: its summed log-likelihood before any update, and its
    /// contribution added to what `update` will apply.
    func accumulate() throws -> Double
    /// Applies what `accumulate` gathered, with its sums first added up across processes by
    /// `reducer` (the loop's one reduction point); returns how many eigenvalues were clipped.
    func update(reducer: any Reducer) throws -> Int
    /// What the strategy kept on the device since the last call instead of returning it from
    /// `accumulate` and `update` (SGD: so that a step reads nothing back): the summed
    /// log-likelihood and the clipped count, NaN where a fault was found. The loop settles before
    /// every checkpoint and at the end of every epoch, and rolls back on a non-finite figure.
    func settle() throws -> (logLikelihood: Double, clipped: Double)
    /// After an epoch's last batch: EM's M-step on the reduced statistics, SGD's re-seeding of
    /// dead components. Returns how many components were re-seeded.
    func endEpoch(_ epoch: Int, reducer: any Reducer) throws -> Int

    /// The prefixes of the state's entries that hold sums this process gathered over its share of
    /// the batches so far (EM's pass in progress): a checkpoint holds their totals over every
    /// process, and on resume one process takes them, the others start from zero.
    var partialSums: [String] { get }

    /// The whole state, exactly (θ, moments, statistics gathered so far, step count).
    func save() throws -> StrategyState
    func restore(_ state: StrategyState) throws
    /// Mean log-likelihood per sample of the current model on `data`, in the data's units.
    func meanLogLikelihood(_ data: any SampleSource) throws -> Double
    /// The current model.
    func result() throws -> Result
    /// A finished restart's model as checkpoint tensors, and back.
    func encode(_ result: Result) -> StrategyState
    func decode(_ state: StrategyState) throws -> Result
}

extension TrainingStrategy {
    public func undoesWorse(epoch: Int) -> Bool { false }
    public var logLikelihoodCeiling: Double { .infinity }
    public var isFinished: Bool { false }
    public var partialSums: [String] { [] }
    public func settle() throws -> (logLikelihood: Double, clipped: Double) { (0, 0) }
}

/// A strategy's state as named arrays, for checkpoints and roll-back snapshots: float32 arrays
/// (what the device holds), float64 arrays (host statistics and layers) and integers.
public struct StrategyState: Sendable, Equatable {
    public var floats: [String: [Float]]
    public var doubles: [String: [Double]]
    public var integers: [String: Int]

    public init(floats: [String: [Float]] = [:], doubles: [String: [Double]] = [:], integers: [String: Int] = [:]) {
        self.floats = floats
        self.doubles = doubles
        self.integers = integers
    }

    public func floats(_ name: String) throws -> [Float] {
        guard let values = floats[name] else { throw MFAError.invalidArgument("the saved state has no '\(name)'") }
        return values
    }

    public func doubles(_ name: String) throws -> [Double] {
        guard let values = doubles[name] else { throw MFAError.invalidArgument("the saved state has no '\(name)'") }
        return values
    }

    public func integer(_ name: String) throws -> Int {
        guard let value = integers[name] else { throw MFAError.invalidArgument("the saved state has no '\(name)'") }
        return value
    }

    /// The names of the float64 and integer entries under any of `prefixes`, sorted.
    func names(under prefixes: [String]) -> (doubles: [String], integers: [String]) {
        let under = { (name: String) in prefixes.contains { name.hasPrefix($0) } }
        return (doubles.keys.filter(under).sorted(), integers.keys.filter(under).sorted())
    }

    /// Those entries added up across processes (every process calls this).
    mutating func sum(under prefixes: [String], reducer: any Reducer) throws {
        let (real, whole) = names(under: prefixes)
        var values = real.flatMap { doubles[$0]! } + whole.map { Double(integers[$0]!) }
        try reducer.sum(&values)
        var offset = 0
        for name in real {
            let count = doubles[name]!.count
            doubles[name] = Array(values[offset..<(offset + count)])
            offset += count
        }
        for name in whole {
            integers[name] = Int(values[offset])
            offset += 1
        }
    }

    /// Those entries set to zero (a process that does not take a checkpoint's totals).
    mutating func zero(under prefixes: [String]) {
        let (real, whole) = names(under: prefixes)
        for name in real { doubles[name] = [Double](repeating: 0, count: doubles[name]!.count) }
        for name in whole { integers[name] = 0 }
    }
}

/// Adds up sums that each process computed on its share of the data, so that every process
/// holds the totals. Training in one process needs no exchange: `SingleProcess`.
public protocol Reducer {
    /// How many processes train together, and which of them this one is (0 leads).
    var processes: Int { get }
    var rank: Int { get }
    /// nil: a batch is one pass in one process (no exchange). Otherwise every global batch is cut
    /// into chunks of this many rows, each computed as a pass of its own by one process and added
    /// in float64, so that the sums do not depend on how many processes share the chunks.
    var chunkRows: Int? { get }
    /// Replaces every value by its sum over the processes (every process gets the same values).
    func sum(_ values: inout [Double]) throws
    /// Replaces every value by its largest over the processes.
    func maximum(_ values: inout [Double]) throws
}

public struct SingleProcess: Reducer {
    public init() {}
    public var processes: Int { 1 }
    public var rank: Int { 0 }
    public var chunkRows: Int? { nil }
    public func sum(_ values: inout [Double]) throws {}
    public func maximum(_ values: inout [Double]) throws {}
}

extension Reducer {
    /// The rows of a global batch of `count` that this process computes, as separate passes:
    /// the fixed chunks `chunkRows` cuts it into, split among the processes in order.
    public func chunks(ofBatch count: Int) -> [Range<Int>] {
        guard let size = chunkRows else { return count > 0 ? [0..<count] : [] }
        let total = (count + size - 1) / size
        let (first, last) = (total * rank / processes, total * (rank + 1) / processes)
        return (first..<last).map { $0 * size..<min(($0 + 1) * size, count) }
    }

    /// This process's share of `count` rows for whole-data passes (validation, final scores).
    public func share(of count: Int) -> Range<Int> {
        (count * rank / processes)..<(count * (rank + 1) / processes)
    }
}

/// What the loop tells a strategy before the passes of one global batch.
public struct BatchShare: Sendable, Equatable {
    /// Rows in the global batch (over every process).
    public var rows: Int
    /// True when this process computes the whole batch in one pass and nothing is exchanged:
    /// a strategy may then keep its sums on the device.
    public var whole: Bool

    public init(rows: Int, whole: Bool) {
        self.rows = rows
        self.whole = whole
    }
}
