import ArgumentParser
import Foundation
import MFA
import MFAIO

/// Checkpoints and resume, for every trainer (`train` with any algorithm, `dgmm train`).
struct CheckpointArguments: ParsableArguments {
    @Option(help: "Save the run here (atomically) every --checkpoint-every steps and when SIGINT or SIGTERM stops it, to continue it with --resume.")
    var checkpoint: String?

    @Option(help: "Steps (EM: batches of its statistics) between checkpoints (default: 100).")
    var checkpointEvery: Int?

    @Option(help: "Continue an interrupted run from its checkpoint; the data and every option that changes the result must be those it was started with. When it names the --checkpoint file and that does not exist yet, the run starts afresh (so a scheduler can requeue the same command).")
    var resume: String?

    func validate() throws {
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        if checkpointEvery != nil, checkpoint == nil { throw ValidationError("--checkpoint-every needs --checkpoint (where to save)") }
    }

    /// The loop's control: saving, resuming, stopping on a signal, notes on stderr.
    func control() throws -> TrainingControl {
        var resumeFrom = resume
        if let resume, resume == checkpoint, !FileManager.default.fileExists(atPath: resume) {
            printError("note: \(resume) does not exist yet; starting afresh")
            resumeFrom = nil
        }
        Interruption.install()
        return TrainingControl(
            checkpointEvery: checkpoint == nil ? nil : checkpointEvery ?? 100,
            // Under MPI every rank takes part in a checkpoint (its partial sums are added up); rank 0
            // alone writes it, and every rank resumes from the same file.
            save: checkpoint.map { path in { if Launch.leads { try CheckpointFile.write($0, to: path) } } },
            resume: try resumeFrom.map { try CheckpointFile.read($0) },
            stopRequest: { interruptSignal.load(ordering: .relaxed) },
            stopAgreed: Interruption.agree,
            note: { printError("note: \($0)") },
            reducer: Launch.reducer)
    }
}

/// Runs a training command's work, turning the core's words into the command line's: a stop on
/// a signal exits 130 (SIGINT) or 143 (SIGTERM) after one line; a checkpoint made with other
/// options names the option as the user types it.
func trainingCommand<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch MFAError.interrupted(let message) {
        printError("interrupted: \(message)")
        throw ExitCode(Interruption.exitStatus)
    } catch MFAError.resumeMismatch(let setting, let saved, let current) {
        if setting == "from" {  // the values are fingerprints of the starting models
            throw MFAError.invalidArgument(saved == "none" || current == "none"
                ? "the checkpoint was made \(saved == "none" ? "without" : "with") --from, this run is \(current == "none" ? "without" : "with") it; resume with the options it was started with"
                : "the checkpoint was made from another --from model; resume with the options it was started with")
        }
        throw MFAError.invalidArgument(
            "the checkpoint was made with \(optionName(setting)) \(saved), this run has \(current); resume with the options it was started with")
    }
}

/// A core setting's name as the command line spells its option.
func optionName(_ setting: String) -> String {
    switch setting {
    case "data": return "other data:"
    case "em_iterations_before_sgd": return "--init em:N, N ="
    case "shape": return "--components/--latent"
    case "max_iterations": return "--epochs (EM: --max-iterations)"
    case "online_em_exponent": return "--step-exponent"
    case "online_em_delay": return "--step-delay"
    case "kmeans_sample_size": return "--kmeans-sample"
    default: return "--" + setting.replacingOccurrences(of: "_", with: "-")
    }
}
