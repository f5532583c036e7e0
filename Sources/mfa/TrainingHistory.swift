import ArgumentParser
import Foundation
import MFA
import MFAIO

/// When the process started: `--history` times count from here, so that loading the data and
/// initialising count too.
let processStart = ContinuousClock.now

/// `--history FILE.csv`: one row per epoch of the restart that is kept (with `--validation`, a
/// row 0 for the start, its train_ll empty), header exactly
/// `epoch,seconds,train_ll,validation_ll` (seconds since the process started; log-likelihoods per
/// sample in the data's units; empty where not computed).
struct TrainingHistory {
    private var rows: [Int: [String]] = [:]

    init() {}

    /// A resumed run's history: the rows of `path` (written when the run was stopped) for the
    /// epochs before the checkpoint's, credited to its restart. Their seconds are the stopped
    /// process's; the resumed process counts from its own start.
    init(continuing path: String?, from checkpoint: TrainingCheckpoint?) {
        guard let path, let checkpoint, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        rows[checkpoint.restart] = text.split(separator: "\n").dropFirst().map(String.init).filter { line in
            Int(line.split(separator: ",").first ?? "").map { $0 < checkpoint.epoch } ?? false
        }
    }

    mutating func record(_ report: EpochReport) {
        let elapsed = ContinuousClock.now - processStart
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let validation = report.validationLogLikelihood.map { String($0) } ?? ""
        let train = report.trainLogLikelihood.isNaN ? "" : String(report.trainLogLikelihood)  // epoch 0: the start
        rows[report.restart, default: []].append("\(report.epoch),\(String(format: "%.3f", seconds)),\(train),\(validation)")
    }

    func write(restart: Int, to path: String) throws {
        let text = (["epoch,seconds,train_ll,validation_ll"] + (rows[restart] ?? [])).joined(separator: "\n") + "\n"
        try AtomicFile.write(Array(text.utf8), to: path)
    }
}
