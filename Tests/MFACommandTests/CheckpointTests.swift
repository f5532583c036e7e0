import Foundation
import MFA
import MFAIO
import Testing

/// Issue 6's contract: a run killed at any moment leaves a checkpoint that loads, and resuming
/// ends bit for bit where an uninterrupted run with the same seed ends.
@Suite(.serialized) struct CheckpointTests {
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

    @Test("Killed with SIGKILL at random points and resumed, training ends bit-identical; SIGINT saves and stops")
    func killAndResume() throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        let common = ["train", data, "-c", "6", "-l", "3", "--epochs", "4", "--batch-size", "32", "--backend", "cpu"]
        let whole = try Tool.run(common + ["-o", workspace["whole.safetensors"]])
        #expect(whole.status == 0, "\(whole.stderr)")

        let checkpoint = workspace["run.checkpoint"]
        let resumable = common + ["--checkpoint", checkpoint, "--checkpoint-every", "20", "-o", workspace["resumed.safetensors"]]
        var random = RandomGenerator(seed: 3)
        var killed = 0
        for attempt in 0..<4 {
            let resume = FileManager.default.fileExists(atPath: checkpoint) ? ["--resume", checkpoint] : []
            // The last attempt is a Ctrl-C: it must stop cleanly after saving.
            let signal = attempt == 3 ? SIGINT : SIGKILL
            let status = try run(resumable + resume, signal: signal, after: 0.1 + 0.3 * random.uniform())
            if status != 0 { killed += 1 }
            if FileManager.default.fileExists(atPath: checkpoint) {
                #expect(throws: Never.self) { _ = try CheckpointFile.read(checkpoint) }
            }
        }
        #expect(killed >= 1, "no run was interrupted: the training is too fast for this test")
        let finish = try Tool.run(resumable + ["--resume", checkpoint])
        #expect(finish.status == 0, "\(finish.stderr)")
        let expected = try tensors(workspace["whole.safetensors"]), actual = try tensors(workspace["resumed.safetensors"])
        #expect(expected.keys.sorted() == actual.keys.sorted())
        for (name, values) in expected { #expect(actual[name] == values, "tensor \(name) differs") }
    }

    @Test("A checkpoint from another run is refused with a clear error")
    func mismatchedCheckpointIsRefused() throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        let first = try Tool.run(["train", data, "-c", "2", "-l", "1", "--epochs", "1", "--checkpoint", workspace["c"],
                                  "--checkpoint-every", "1000", "-o", workspace["m.safetensors"]])
        #expect(first.status == 0)
        try CheckpointFile.write(Checkpoint(shape: try MixtureShape(components: 2, dimension: 40, latent: 1), theta: [],
                                            firstMoment: [], secondMoment: [], eigenvalues: [], step: 1, epoch: 1, batch: 1,
                                            loopRandomState: [1, 2, 3, 4], logLikelihoodSum: 0, clipped: 0, rows: 7,
                                            scale: 1, epochs: 1, batchSize: 256), to: workspace["c"])
        let outcome = try Tool.run(["train", data, "-c", "2", "-l", "1", "--epochs", "1", "--resume", workspace["c"],
                                    "-o", workspace["m2.safetensors"]])
        #expect(outcome.status != 0 && outcome.stderr.contains("another run"))
        #expect(!FileManager.default.fileExists(atPath: workspace["m2.safetensors"]))
    }
}
