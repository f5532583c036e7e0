import Foundation
import MFA
import MFAIO
import Testing

/// The one loop's contract for every trainer: a run killed at any moment leaves a checkpoint that
/// loads, and resuming ends bit for bit where an uninterrupted run with the same seed ends;
/// SIGINT and SIGTERM save and exit 130 and 143; a resume with other options is refused.
@Suite(.serialized) struct CheckpointTests {
    /// Each trainer's command, short but long enough to be interrupted.
    static let trainers: [(name: String, arguments: [String], changed: [String], option: String)] = [
        ("sgd", ["train", "--algorithm", "sgd", "-c", "6", "-l", "3", "--epochs", "4", "--batch-size", "32"], ["--learning-rate", "0.2"], "--learning-rate"),
        ("em", ["train", "--algorithm", "em", "-c", "6", "-l", "3", "--epochs", "8", "--tolerance", "0", "--batch-size", "16"],
         ["--min-variance", "0.01"], "--min-variance"),
        ("online-em", ["train", "--algorithm", "online-em", "-c", "6", "-l", "3", "--epochs", "6", "--batch-size", "64"],
         ["--step-exponent", "0.7"], "--step-exponent"),
        ("dgmm", ["dgmm", "train", "-c", "3,2", "-l", "4,1", "--epochs", "3", "--batch-size", "32", "--restarts", "2"],
         ["--learning-rate", "0.2"], "--learning-rate"),
    ]

    func writeData(_ workspace: Workspace) throws -> String {
        var random = RandomGenerator(seed: 9)
        let centres = (0..<(6 * 40)).map { _ in 2 * random.normal() }
        var values = [Double]()
        for _ in 0..<20_000 {
            let c = Int(random.next() % 6)
            for j in 0..<40 { values.append(centres[c * 40 + j] + 0.7 * random.normal()) }
        }
        try Numpy.write(values, shape: [20_000, 40], dtype: "<f4", to: workspace["data.npy"])
        return workspace["data.npy"]
    }

    func arguments(_ trainer: [String], data: String) -> [String] {
        let split = trainer[0] == "dgmm" ? 2 : 1
        return Array(trainer[..<split]) + [data] + Array(trainer[split...]) + ["--backend", "cpu"]
    }

    func tensors(_ path: String) throws -> [String: [Float]] {
        try Safetensors.read(path: path).tensors.mapValues(\.values)
    }

    /// Starts `mfa` and sends `signal` after `delay` seconds (if it is still running).
    func run(_ arguments: [String], signal: Int32, after delay: Double) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tool.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("Killed with SIGKILL at random points and resumed, every trainer ends bit-identical", arguments: [0, 1, 2, 3])
    func killAndResume(trainer index: Int) throws {
        let trainer = Self.trainers[index]
        let workspace = Workspace()
        let common = arguments(trainer.arguments, data: try writeData(workspace))
        let began = Date()
        let whole = try Tool.run(common + ["-o", workspace["whole.safetensors"]])
        #expect(whole.status == 0, "\(whole.stderr)")
        let seconds = Date().timeIntervalSince(began)

        let checkpoint = workspace["run.checkpoint"]
        // --resume names the checkpoint from the first attempt on: a missing file starts afresh.
        let resumable = common + ["--checkpoint", checkpoint, "--resume", checkpoint, "--checkpoint-every", "20",
                                  "-o", workspace["resumed.safetensors"]]
        var random = RandomGenerator(seed: 3)
        var killed = 0
        for _ in 0..<4 {
            // Somewhere in the first nine tenths of an uninterrupted run's time (a resumed run is shorter).
            if try run(resumable, signal: SIGKILL, after: seconds * (0.15 + 0.75 * random.uniform())) != 0 { killed += 1 }
            if FileManager.default.fileExists(atPath: checkpoint) {
                #expect(throws: Never.self) { _ = try CheckpointFile.read(checkpoint) }
            }
        }
        #expect(killed >= 1, "no \(trainer.name) run was interrupted: the training is too fast for this test")
        let finish = try Tool.run(resumable)
        #expect(finish.status == 0, "\(finish.stderr)")
        let expected = try tensors(workspace["whole.safetensors"]), actual = try tensors(workspace["resumed.safetensors"])
        #expect(expected.keys.sorted() == actual.keys.sorted())
        for (name, values) in expected { #expect(actual[name] == values, "\(trainer.name): tensor \(name) differs") }
    }

    @Test("A DGMM resumed from a checkpoint taken after an EM epoch's last batch ends bit-identical (its M-step still runs)")
    func resumeAtEndOfEMEpoch() throws {
        let workspace = Workspace()
        // 20,000 rows in batches of 2,000: step 20 is the last batch of epoch 2, the first EM epoch.
        let common = arguments(["dgmm", "train", "-c", "3,2", "-l", "4,1", "--epochs", "3", "--em-epochs", "2",
                                "--batch-size", "2000"], data: try writeData(workspace))
        #expect(try Tool.run(common + ["-o", workspace["whole.safetensors"]]).status == 0)
        let checkpointed = common + ["--checkpoint", workspace["run.checkpoint"], "--checkpoint-every", "20"]
        #expect(try Tool.run(checkpointed + ["-o", workspace["first.safetensors"]]).status == 0)
        let resumed = try Tool.run(checkpointed + ["--resume", workspace["run.checkpoint"], "-o", workspace["resumed.safetensors"]])
        #expect(resumed.status == 0 && resumed.stderr.contains("at epoch 2, after batch 10"), "\(resumed.stderr)")
        #expect(try tensors(workspace["resumed.safetensors"]) == tensors(workspace["whole.safetensors"]))
    }

    @Test("SIGTERM and SIGINT stop every trainer after a batch, save the checkpoint and exit 143 and 130", arguments: [0, 1, 2, 3])
    func signalsSave(trainer index: Int) throws {
        let trainer = Self.trainers[index]
        let workspace = Workspace()
        // Many epochs, so that the signal always finds the run training.
        let long = trainer.arguments.enumerated().map { $0.offset > 0 && trainer.arguments[$0.offset - 1] == "--epochs" ? "10000" : $0.element }
        let common = arguments(long, data: try writeData(workspace))
        for (signal, status) in [(SIGTERM, Int32(143)), (SIGINT, 130)] {
            let checkpoint = workspace["\(signal).checkpoint"]
            let outcome = try run(common + ["--checkpoint", checkpoint, "--checkpoint-every", "100000", "-o", workspace["m.safetensors"]],
                                  signal: signal, after: 1.0)
            #expect(outcome == status, "\(trainer.name): exit \(outcome) after signal \(signal)")
            #expect(throws: Never.self) { _ = try CheckpointFile.read(checkpoint) }
            #expect(!FileManager.default.fileExists(atPath: workspace["m.safetensors"]))
        }
    }

    @Test("A resume with another result-changing option is refused, naming the option", arguments: [0, 1, 2, 3])
    func changedOptionIsRefused(trainer index: Int) throws {
        let trainer = Self.trainers[index]
        let workspace = Workspace()
        let common = arguments(trainer.arguments, data: try writeData(workspace))
        let checkpoint = workspace["c"]
        let first = try Tool.run(common + ["--checkpoint", checkpoint, "--checkpoint-every", "50", "-o", workspace["m.safetensors"]])
        #expect(first.status == 0, "\(first.stderr)")
        let outcome = try Tool.run(common + trainer.changed + ["--resume", checkpoint, "-o", workspace["m2.safetensors"]])
        #expect(outcome.status != 0 && outcome.stderr.contains(trainer.option), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace["m2.safetensors"]))
        // A warm start where the run had none is named as such, not by fingerprints.
        if trainer.name != "dgmm" {
            let fromModel = try Tool.run(common + ["--from", workspace["m.safetensors"], "--resume", checkpoint, "-o", workspace["m4.safetensors"]])
            #expect(fromModel.status != 0 && fromModel.stderr.contains("made without --from, this run is with it"), "\(fromModel.stderr)")
        }
        // Other data of the same size: the fingerprint differs.
        let values = try Numpy.read(path: workspace["data.npy"]).values.map { Double($0) + 0.5 }
        try Numpy.write(values, shape: [20_000, 40], dtype: "<f4", to: workspace["other.npy"])
        let otherData = try Tool.run(common.map { $0.hasSuffix("data.npy") ? workspace["other.npy"] : $0 }
                                     + ["--resume", checkpoint, "-o", workspace["m3.safetensors"]])
        #expect(otherData.status != 0 && otherData.stderr.contains("other data"), "\(otherData.stderr)")
    }
}

extension CheckpointTests {
    @Test("A checkpoint of the previous release (kind sgd-checkpoint) still resumes, compared on what it recorded")
    func previousReleaseCheckpointResumes() throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        let common = ["train", data, "-c", "2", "-l", "1", "--algorithm", "sgd", "--epochs", "2", "--batch-size", "500", "--backend", "cpu"]
        let checkpoint = workspace["new.checkpoint"]
        #expect(try Tool.run(common + ["--checkpoint", checkpoint, "--checkpoint-every", "30", "-o", workspace["a.safetensors"]]).status == 0)
        // Rewrite it as the previous release wrote it: the same SGD tensors, its metadata keys.
        let saved = try CheckpointFile.read(checkpoint)
        let sgdTensors = saved.state.floats.filter { $0.key != "learning_rate_factor" }.mapValues { Tensor(shape: [$0.count], values: $0) }
        try Safetensors.write(sgdTensors, metadata: [
            "format": "swift-mfa", "kind": "sgd-checkpoint", "components": "2", "dimension": "40", "latent": "1",
            "step": String(saved.state.integers["step"]!), "epoch": String(saved.epoch), "batch": String(saved.batch),
            "random_state": saved.loopRandomState.map(String.init).joined(separator: ","),
            "log_likelihood_sum": String(saved.logLikelihoodSum.bitPattern), "clipped": String(saved.clipped),
            "rows": "20000", "scale": "0", "epochs": "2", "batch_size": "500",
        ], to: workspace["old.checkpoint"])
        let resumed = try Tool.run(common + ["--resume", workspace["old.checkpoint"], "-o", workspace["b.safetensors"]])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let whole = try Tool.run(common + ["-o", workspace["c.safetensors"]])
        #expect(whole.status == 0)
        #expect(try tensors(workspace["b.safetensors"]) == tensors(workspace["c.safetensors"]))
        let threeEpochs = ["train", data, "-c", "2", "-l", "1", "--algorithm", "sgd", "--epochs", "3", "--batch-size", "500", "--backend", "cpu"]
        let otherEpochs = try Tool.run(threeEpochs + ["--resume", workspace["old.checkpoint"], "-o", workspace["d.safetensors"]])
        #expect(otherEpochs.status != 0 && otherEpochs.stderr.contains("--epochs"), "\(otherEpochs.stderr) \(otherEpochs.stdout)")
    }
}
