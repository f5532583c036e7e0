/// The one training loop (the shape of scikit-learn's `BaseMixture.fit`): restarts, epochs,
/// batch order and paging, validation, the stopping rule, progress and ETA, checkpoints and
/// exact resume, interruption, and roll-back on numerical faults, for every algorithm. An
/// algorithm is a `TrainingStrategy`; every cross-process sum goes through `reducer`.
public struct TrainingLoop {
    /// The most epochs (EM: iterations) per restart.
    public var epochs: Int
    /// Stop a restart when its training log-likelihood per sample changes by less than this
    /// between epochs (nil: run every epoch).
    public var tolerance: Double?
    /// Independent starts; the one with the best final training log-likelihood is kept.
    public var restarts: Int
    public var seed: UInt64
    public var batchSize: Int
    public var control: TrainingControl
    /// Where every cross-process sum goes (the control's).
    public var reducer: any Reducer { control.reducer }
    /// Roll-backs after non-finite losses, per restart, before it is given up.
    public static var maximumRollbacks: Int { 5 }
    /// Times one epoch is undone for leaving the probe rows less likely than the start (each
    /// halves the rate: after the last, the rate is 1/1024 of the epoch's); one more ends the restart.
    public static var maximumUndos: Int { 10 }
    /// The probe: this many training rows (fewer where d > 4,096), evenly spaced, scored at the
    /// restart's start and after every epoch a strategy `undoesWorse(epoch:)` (paired, the same
    /// rows each time, so that a small change shows).
    public static var probeRows: Int { 4096 }

    public init(epochs: Int, tolerance: Double?, restarts: Int, seed: UInt64, batchSize: Int,
                control: TrainingControl = TrainingControl()) {
        self.epochs = epochs
        self.tolerance = tolerance
        self.restarts = restarts
        self.seed = seed
        self.batchSize = batchSize
        self.control = control
    }

    /// The generator of restart `restart`: restart 0 uses the seed itself.
    public static func random(seed: UInt64, restart: Int) -> RandomGenerator {
        RandomGenerator(seed: seed &+ UInt64(restart) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Trains every restart (from the checkpoint's, when resuming) and returns the best. A restart
    /// that fails numerically is reported through `failed` and skipped; the run fails only when
    /// every restart failed. Any other failure (a file, the data, the device) ends the run at once.
    /// `start` initialises a restart from its generator.
    public func run<S: SampleSource, T: TrainingStrategy>(
        _ data: S, validation: (any SampleSource)?, identity: RunIdentity,
        start: (_ restart: Int, _ random: inout RandomGenerator) throws -> T,
        progress: (EpochReport) -> Void = { _ in }, failed: (_ restart: Int, MFAError) -> Void = { _, _ in }
    ) throws -> TrainingOutcome<T.Result> {
        guard epochs >= 1, restarts >= 1, batchSize >= 1 else {
            throw MFAError.invalidArgument("epochs, restarts and the batch size must each be at least 1")
        }
        let fingerprint = try DataFingerprint(data)
        try requireSameRun(identity, fingerprint)
        if let resume = control.resume {
            try resume.checkResumable(as: identity, data: fingerprint)
            control.note("resuming restart \(resume.restart + 1) at epoch \(resume.epoch), after batch \(resume.batch)")
            if resume.identity.backend != identity.backend {
                control.note("resuming a run checkpointed on \(resume.identity.backend) on \(identity.backend)")
            }
        }
        var run = RunState(identity: identity, fingerprint: fingerprint, best: control.resume?.best)
        var bestResult: T.Result?
        var lastError: MFAError?
        for restart in (control.resume?.restart ?? 0)..<restarts {
            var random = Self.random(seed: seed, restart: restart)
            do {
                let strategy = try start(restart, &random)
                if bestResult == nil, let best = run.best { bestResult = try strategy.decode(best.result) }
                let resume = restart == control.resume?.restart ? control.resume : nil
                let end = try train(strategy, data, validation: validation, restart: restart, random: random,
                                    resume: resume, run: &run, progress: progress)
                // Above the ceiling that the variance floor sets, the figure is round-off, not a fit.
                guard end.logLikelihood <= strategy.logLikelihoodCeiling else {
                    throw MFAError.numerical(String(
                        format: "its final log-likelihood, %.4g per sample, exceeds the %.4g that the variance floor allows: "
                            + "round-off (float32 passes on data of a wide range: try --precision float64)",
                        end.logLikelihood, strategy.logLikelihoodCeiling))
                }
                run.summaries.append(RestartSummary(restart: restart, logLikelihood: end.logLikelihood, error: nil))
                if run.best.map({ end.logLikelihood > $0.logLikelihood }) ?? true {
                    bestResult = try strategy.result()
                    run.best = FinishedRestart(restart: restart, logLikelihood: end.logLikelihood, converged: end.converged,
                                               epochs: end.epochs, result: strategy.encode(bestResult!))
                }
            } catch let error as MFAError {
                // A restart fails numerically; a file, a device or the data failing ends the run.
                switch error {
                case .diverged, .numerical: break
                default: throw error
                }
                lastError = error
                run.summaries.append(RestartSummary(restart: restart, logLikelihood: nil, error: error))
                failed(restart, error)
            }
        }
        guard let best = run.best, let bestResult else { throw lastError ?? MFAError.diverged("no restart finished") }
        return TrainingOutcome(result: bestResult, best: best, restarts: run.summaries)
    }

    /// One restart: epochs until the last or until the stopping rule holds; then its final
    /// training log-likelihood over the whole data.
    func train<S: SampleSource, T: TrainingStrategy>(
        _ strategy: T, _ data: S, validation: (any SampleSource)?, restart: Int, random: RandomGenerator,
        resume: TrainingCheckpoint?, run: inout RunState, progress: (EpochReport) -> Void
    ) throws -> RestartEnd {
        var random = random
        run.restartRollbacks = 0
        var order = EpochOrder(data: data, shuffles: strategy.shufflesRows)
        var position = EpochPosition()
        var previous: Double?
        if let resume {
            var state = resume.state
            if reducer.rank != 0 { state.zero(under: strategy.partialSums) }  // rank 0 holds the totals
            try strategy.restore(state)
            random = try RandomGenerator(state: resume.loopRandomState)
            for _ in 1..<resume.epoch { order.next(data, random: &random) }
            position = EpochPosition(epoch: resume.epoch, batch: resume.batch, logLikelihoodSum: resume.logLikelihoodSum,
                                     clipped: resume.clipped, resumed: true, rollbacks: resume.epochRollbacks,
                                     undone: resume.epochUndone)
            run.restartRollbacks = resume.rollbacks
            previous = resume.previousLogLikelihood
        }
        let context = RestartContext(restart: restart, loopRandomState: resume?.loopRandomState ?? random.state)
        run.epochStart = resume?.epochStart
        run.probe = nil
        if (1...epochs).contains(where: strategy.undoesWorse(epoch:)) {
            // Copied once (a paged source is not read out of order every epoch), ≤ 64 MB of them.
            let count = min(Self.probeRows, max(256, (1 << 24) / max(data.columns, 1)))
            let step = max(1, data.rows / count)
            let rows = try data.gathering(rows: Array(stride(from: 0, to: data.rows, by: step).prefix(count)))
            run.probe = Probe(rows: rows, baseline: try resume?.probeLogLikelihood ?? meanLogLikelihood(strategy, rows))
        }
        if resume == nil, let validation {
            // Epoch 0, the start, when there is validation data to score it on: a time-to-quality
            // curve begins where training does.
            progress(EpochReport(
                restart: restart, restarts: restarts, epoch: 0, epochs: epochs, trainLogLikelihood: .nan,
                validationLogLikelihood: try meanLogLikelihood(strategy, validation), samplesPerSecond: 0,
                elapsedSeconds: run.pace.elapsed, remainingSeconds: 0, clippedFraction: 0))
        }
        var converged = false, lastEpoch = position.epoch
        for epoch in position.epoch...epochs {
            lastEpoch = epoch
            order.next(data, random: &random)
            let began = ContinuousClock.now
            let sums = try runEpoch(strategy, data, order: order, at: epoch == position.epoch ? position : EpochPosition(epoch: epoch),
                                    previous: previous, context: context, run: &run)
            let trainSeconds = seconds(ContinuousClock.now - began)
            let reseeded = try strategy.endEpoch(epoch, reducer: reducer)
            let logLikelihood = sums.logLikelihoodSum / Double(data.rows)
            run.pace.epochFinished()
            let left = (epochs - epoch) + (restarts - restart - 1) * epochs
            progress(EpochReport(
                restart: restart, restarts: restarts, epoch: epoch, epochs: epochs, trainLogLikelihood: logLikelihood,
                validationLogLikelihood: try validation.map { try meanLogLikelihood(strategy, $0) },
                samplesPerSecond: Double(sums.trainedRows) / max(trainSeconds, 1e-9), elapsedSeconds: run.pace.elapsed,
                remainingSeconds: run.pace.remaining(epochsLeft: left),
                clippedFraction: Double(sums.clipped) / Double(max(order.batches(of: batchSize) * strategy.engine.shape.components * strategy.engine.shape.latent, 1)),
                reseeded: reseeded, rollbacks: sums.rollbacks, undone: sums.undone, endsRestart: sums.endsRestart,
                learningRateFactor: strategy.learningRateFactor))
            if sums.endsRestart || strategy.isFinished { break }
            if let tolerance, let previous, abs(logLikelihood - previous) < tolerance {
                converged = true
                break
            }
            previous = logLikelihood
        }
        let logLikelihood = try meanLogLikelihood(strategy, data)
        guard logLikelihood.isFinite else { throw MFAError.diverged("restart \(restart + 1): the final log-likelihood is not finite") }
        return RestartEnd(logLikelihood: logLikelihood, converged: converged, epochs: lastEpoch)
    }
}

extension TrainingLoop {
    /// Every process must train the same run on the same data (an MPI launch can start ranks with
    /// different command lines): the settings and the data's fingerprint, hashed, must agree.
    func requireSameRun(_ identity: RunIdentity, _ fingerprint: DataFingerprint) throws {
        guard reducer.processes > 1 else { return }
        var hasher = FNV1a()
        hasher.add(identity.algorithm + "|" + identity.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "|"))
        hasher.add("|\(fingerprint.rows)|\(fingerprint.columns ?? 0)|\(fingerprint.hash ?? 0)|\(restarts)|\(epochs)|\(batchSize)")
        let mine = Double(hasher.value >> 12)  // 52 bits: exact in a float64
        var extremes = [mine, -mine]
        try reducer.maximum(&extremes)
        guard extremes[0] == mine, extremes[1] == -mine else {
            throw MFAError.invalidArgument("the \(reducer.processes) processes were not started with the same options and data; every rank must run the same command")
        }
    }

    /// The strategy's mean log-likelihood per sample on `data`, each process scoring its share.
    func meanLogLikelihood<T: TrainingStrategy>(_ strategy: T, _ data: any SampleSource) throws -> Double {
        guard reducer.processes > 1 else { return try strategy.meanLogLikelihood(data) }
        let rows = reducer.share(of: data.rows)
        var total = [rows.isEmpty ? 0 : try strategy.meanLogLikelihood(RowRange(data, rows: rows)) * Double(rows.count)]
        try reducer.sum(&total)
        return total[0] / Double(data.rows)
    }
}

/// How a restart ended: its final training log-likelihood per sample, whether the stopping rule
/// held, and the epochs it ran.
struct RestartEnd {
    let logLikelihood: Double
    let converged: Bool
    let epochs: Int
}

/// The best restart and what happened to each, in the order they ran.
public struct TrainingOutcome<Result> {
    public var result: Result
    public var best: FinishedRestart
    public var restarts: [RestartSummary]
}

public struct RestartSummary: Sendable {
    public var restart: Int
    /// The final training log-likelihood per sample, or nil when the restart failed with `error`.
    public var logLikelihood: Double?
    public var error: MFAError?
}

/// What the loop carries across restarts.
struct RunState {
    let identity: RunIdentity
    let fingerprint: DataFingerprint
    var best: FinishedRestart?
    var summaries = [RestartSummary]()
    var pace = TrainingPace()
    /// Roll-backs so far in the restart in progress.
    var restartRollbacks = 0
    /// The probe of the restart in progress.
    var probe: Probe?
    /// The state the epoch in progress began with (kept while there is a probe).
    var epochStart: StrategyState?

    init(identity: RunIdentity, fingerprint: DataFingerprint, best: FinishedRestart?) {
        self.identity = identity
        self.fingerprint = fingerprint
        self.best = best
    }
}

struct RestartContext {
    let restart: Int
    let loopRandomState: [UInt64]
}

/// Where in an epoch training stands, and the epoch's running figures.
struct EpochPosition {
    var epoch = 1
    var batch = 0
    var logLikelihoodSum = 0.0
    var clipped = 0
    /// True when the position came from a checkpoint (the strategy's state is already restored).
    var resumed = false
    var trainedRows = 0
    var rollbacks = 0
    var undone = 0
    /// The epoch was undone with its undos spent: the restart ends at the epoch's start.
    var endsRestart = false
}

/// The rows SGD's epochs are judged on, and their mean log-likelihood at the restart's start.
struct Probe {
    let rows: Matrix
    let baseline: Double
}
