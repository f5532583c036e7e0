/// One epoch of the loop: batches in the epoch's order, pages released behind them, checkpoints
/// and interruption between batches, and the roll-back on a numerical fault to the last good
/// state: the epoch's start, or its last checkpoint (so that a run resumed from that checkpoint
/// rolls back to the same state as the run that wrote it).
extension TrainingLoop {
    func runEpoch<S: SampleSource, T: TrainingStrategy>(
        _ strategy: T, _ data: S, order: EpochOrder, at start: EpochPosition, previous: Double?,
        context: RestartContext, run: inout RunState
    ) throws -> EpochPosition {
        if !start.resumed { try strategy.beginEpoch(start.epoch) }
        var good = GoodState(state: try strategy.save(), position: start, factor: strategy.learningRateFactor)
        // The epoch's start, which an undone epoch returns to (a checkpoint holds it, so that a
        // resumed run undoes as the uninterrupted one does).
        let origin = run.probe == nil || !strategy.undoesWorse(epoch: start.epoch) ? nil : start.resumed ? run.epochStart : good.state
        run.epochStart = origin
        var undoneRows = 0
        while true {
            do {
                var end = try runBatches(strategy, data, order: order, from: good.position, previous: previous,
                                         context: context, run: run, good: good)
                if let probe = run.probe, let origin {
                    // An epoch that leaves the probe rows less likely than the restart's start did, by
                    // more than the tolerance (or impossibly likely), is undone and run again from its
                    // start at half the rate; once the epoch's undos are spent, no step small enough
                    // keeps the start's level and the restart ends at the epoch's start. The start's
                    // level, not the last epoch's: an epoch at a higher rate than the one before ends
                    // noisier and lower, which is no reason to slow a run that is far above its start.
                    let score = try meanLogLikelihood(strategy, probe.rows)
                    let possible = score.isFinite && score <= strategy.logLikelihoodCeiling
                    if !possible || score < probe.baseline - (tolerance ?? TrainingOptions.defaultEMTolerance) {
                        try strategy.restore(origin)
                        end.undone += 1
                        guard end.undone <= Self.maximumUndos else {
                            end.endsRestart = true
                            end.trainedRows += undoneRows
                            return end
                        }
                        undoneRows += end.trainedRows
                        var position = EpochPosition(epoch: start.epoch)
                        (position.undone, position.rollbacks) = (end.undone, end.rollbacks)
                        strategy.learningRateFactor /= Float(1 << position.undone)
                        good = GoodState(state: try strategy.save(), position: position, factor: strategy.learningRateFactor)
                        continue
                    }
                }
                end.trainedRows += undoneRows  // the pace counts the work undone
                return end
            } catch let fault as NumericalFault {
                good.position.rollbacks += 1
                good.faults += 1
                run.restartRollbacks += 1
                guard strategy.backsOff else { throw MFAError.diverged("\(fault.message) at epoch \(start.epoch), step \(strategy.stepCount)") }
                guard run.restartRollbacks <= Self.maximumRollbacks else {
                    throw MFAError.diverged(
                        "\(fault.message) at epoch \(start.epoch), step \(strategy.stepCount), after \(Self.maximumRollbacks) roll-backs that each halved the learning rate; try a smaller learning rate, or (on data whose columns differ in scale by orders of magnitude) standardise the columns")
                }
                try strategy.restore(good.state)
                // Halved once per fault since the good state was taken (its factor holds the earlier ones).
                strategy.learningRateFactor = good.factor / Float(1 << good.faults)
            }
        }
    }

    private func runBatches<S: SampleSource, T: TrainingStrategy>(
        _ strategy: T, _ data: S, order: EpochOrder, from start: EpochPosition, previous: Double?,
        context: RestartContext, run: RunState, good: GoodState
    ) throws -> EpochPosition {
        var position = start
        position.resumed = false
        var pages = order.pages()
        let size = min(batchSize, data.rows)
        for (batch, batchStart) in stride(from: 0, to: data.rows, by: size).enumerated() where batch >= start.batch {
            let batchEnd = min(batchStart + size, data.rows)
            let share = BatchShare(rows: batchEnd - batchStart, whole: reducer.chunkRows == nil)
            var totals = [0.0, 0.0]  // log-likelihood, rows
            var clipped = 0
            do {
                try strategy.beginBatch(share)
                for chunk in reducer.chunks(ofBatch: share.rows) {
                    try strategy.engine.loadBatch(data, rows: order.rows[(batchStart + chunk.lowerBound)..<(batchStart + chunk.upperBound)])
                    totals[0] += try strategy.accumulate()
                    totals[1] += Double(chunk.count)
                }
                pages.release(through: batchEnd, data)
                if reducer.processes > 1 { try reducer.sum(&totals) }
                guard totals[0].isFinite else { throw NumericalFault(message: "non-finite log-likelihood") }
                clipped = try strategy.update(reducer: reducer)
            } catch MFAError.numerical(let message), MFAError.diverged(let message) {
                throw NumericalFault(message: message)
            }
            position.logLikelihoodSum += totals[0]
            position.clipped += clipped
            position.trainedRows += Int(totals[1])
            position.batch = batch + 1
            // Every process stops after the same batch, for the same reason.
            var stop = [Double(control.stopRequest())]
            if reducer.processes > 1 { try reducer.maximum(&stop) }
            let stopping = stop[0] > 0
            if stopping { control.stopAgreed(Int32(stop[0])) }
            if let save = control.save,
               stopping || control.checkpointEvery.map({ strategy.stepCount % $0 == 0 }) == true {
                try settle(strategy, into: &position)  // no checkpoint holds a fault
                // Every process gets here together (the decision is the same everywhere): the
                // partial sums are added up, and the saving process writes them.
                let local = try strategy.save()
                var state = local
                if reducer.processes > 1 { try state.sum(under: strategy.partialSums, reducer: reducer) }
                try save(TrainingCheckpoint(
                    identity: run.identity, fingerprint: run.fingerprint, restart: context.restart, epoch: position.epoch,
                    batch: position.batch, loopRandomState: context.loopRandomState,
                    logLikelihoodSum: position.logLikelihoodSum, clipped: position.clipped,
                    previousLogLikelihood: previous, state: state, best: run.best,
                    rollbacks: run.restartRollbacks, epochRollbacks: position.rollbacks,
                    epochUndone: position.undone, probeLogLikelihood: run.probe?.baseline, epochStart: run.epochStart))
                good.move(to: local, position: position, factor: strategy.learningRateFactor)
            }
            if stopping {
                throw MFAError.interrupted(control.save == nil
                    ? "stopped at step \(strategy.stepCount); no checkpoint was asked for, so the work is lost"
                    : "stopped at step \(strategy.stepCount); the checkpoint holds it")
            }
        }
        try settle(strategy, into: &position)
        return position
    }

    /// Adds what the strategy kept on the device to the epoch's figures (the log-likelihood added
    /// up across processes; θ, and so the clipped count, is the same on every process); a
    /// non-finite figure is a fault the epoch rolls back from.
    private func settle<T: TrainingStrategy>(_ strategy: T, into position: inout EpochPosition) throws {
        let settled = try strategy.settle()
        var logLikelihood = [settled.logLikelihood]
        if reducer.processes > 1 { try reducer.sum(&logLikelihood) }
        guard logLikelihood[0].isFinite else { throw NumericalFault(message: "non-finite log-likelihood") }
        guard settled.clipped.isFinite else {
            throw NumericalFault(message: "non-finite parameters (an M = I − ΓᵀE⁻¹Γ with non-finite entries)")
        }
        position.logLikelihoodSum += logLikelihood[0]
        position.clipped += Int(settled.clipped)
    }
}

/// The last good state of an epoch in progress (its start, then each checkpoint): what a fault
/// rolls back to, and the learning-rate factor the roll-backs since then halve.
final class GoodState {
    var state: StrategyState
    var position: EpochPosition
    var factor: Float
    /// Faults since this state was taken.
    var faults = 0

    init(state: StrategyState, position: EpochPosition, factor: Float) {
        (self.state, self.position, self.factor) = (state, position, factor)
    }

    func move(to state: StrategyState, position: EpochPosition, factor: Float) {
        (self.state, self.position, self.factor, faults) = (state, position, factor, 0)
    }
}

/// A fault one epoch can be rolled back from: a non-finite loss, or a step that met non-finite
/// parameters.
struct NumericalFault: Error {
    let message: String
}

/// The order one epoch visits the rows in. Gradient methods shuffle: in-memory data as one
/// permutation reshuffled in place; paged data as blocks in random order, rows shuffled within
/// each. EM visits rows in file order. Blocks are released once the batches are past them.
struct EpochOrder {
    var rows: [Int]
    var blockEnds: [Int]
    var blocks: [Range<Int>]
    let shuffles: Bool

    init(data: some SampleSource, shuffles: Bool) {
        self.shuffles = shuffles
        rows = Array(0..<data.rows)
        if let size = data.blockRows, size < data.rows {
            blocks = stride(from: 0, to: data.rows, by: size).map { $0..<min($0 + size, data.rows) }
            blockEnds = blocks.map(\.upperBound)
        } else {
            (blocks, blockEnds) = ([0..<data.rows], [data.rows])
        }
    }

    /// The next epoch's order (every epoch's shuffle comes from the one generator, so a resumed
    /// run replays the shuffles of the epochs before its own).
    mutating func next(_ data: some SampleSource, random: inout RandomGenerator) {
        guard shuffles else { return }
        if data.blockRows == nil { rows.shuffle(using: &random) } else { (rows, blockEnds, blocks) = data.epochOrder(random: &random) }
    }

    func batches(of size: Int) -> Int {
        let size = max(1, min(size, rows.count))
        return (rows.count + size - 1) / size
    }

    func pages() -> PageRelease { PageRelease(blockEnds: blockEnds, blocks: blocks) }
}

/// Hands every block of a paged source back once the epoch's batches have passed its end.
struct PageRelease {
    let blockEnds: [Int]
    let blocks: [Range<Int>]
    var next = 0

    mutating func release(through position: Int, _ data: some SampleSource) {
        while next < blockEnds.count, blockEnds[next] <= position {
            data.release(blocks[next])
            next += 1
        }
    }
}
