import Foundation
import MFA
import MFAIO
import Testing

/// Data-parallel training under `mpirun` (Open MPI): `-np 1` and `-np 2` train the same model,
/// bit for bit; the ranks stop together; a dead rank ends the job with no model written.
@Suite(.serialized) struct DistributedTests {
    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `mpirun --allow-run-as-root --oversubscribe -np N mfa …` (the README's form: CI runs as root
    /// on 2 cores). One thread per rank, so both runs split their GEMMs alike.
    func launch(_ processes: Int, _ arguments: [String], output: Pipe? = nil) throws -> Process {
        let mpirun = try #require(Self.mpirun, "Open MPI's mpirun is not installed (make setup installs it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(processes), Tool.binary]
            + arguments + ["--backend", "cpu", "--threads", "1"]
        process.standardOutput = output ?? FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Starts a job and returns once rank 0 has reported its first epoch (so every rank is
    /// training), with the ranks' process ids; the rest of the output is drained in the background.
    func launchTraining(_ arguments: [String]) throws -> (job: Process, ranks: [Int32]) {
        let output = Pipe()
        let job = try launch(2, arguments, output: output)
        var seen = ""
        while !seen.contains("epoch 1/"), !seen.contains("iteration 1/") {
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else { break }
            seen += String(decoding: data, as: UTF8.self)
        }
        let handle = output.fileHandleForReading
        Thread.detachNewThread { while !handle.availableData.isEmpty {} }
        return (job, children(of: job.processIdentifier))
    }

    func run(_ processes: Int, _ arguments: [String]) throws -> Int32 {
        let process = try launch(processes, arguments)
        process.waitUntilExit()
        return process.terminationStatus
    }

    func writeData(_ workspace: Workspace) throws -> String {
        var random = RandomGenerator(seed: 5)
        let (rows, d) = (6_000, 20)
        let centres = (0..<(5 * d)).map { _ in 3 * random.normal() }
        var values = [Double]()
        for _ in 0..<rows {
            let c = Int(random.next() % 5)
            let shared = random.normal()
            for j in 0..<d { values.append(centres[c * d + j] + shared * Double(j % 3) + 0.5 * random.normal()) }
        }
        try Numpy.write(values, shape: [rows, d], dtype: "<f4", to: workspace["data.npy"])
        return workspace["data.npy"]
    }

    func tensors(_ path: String) throws -> [String: [Float]] {
        try Safetensors.read(path: path).tensors.mapValues(\.values)
    }

    /// The ranks' processes: mpirun's children (it forks the local ranks itself).
    func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent
        }
    }

    static let trainers: [[String]] = [
        ["train", "--algorithm", "sgd", "-c", "5", "-l", "2", "--epochs", "2", "--batch-size", "1000"],
        ["train", "--algorithm", "online-em", "-c", "5", "-l", "2", "--epochs", "3", "--batch-size", "1000"],
        ["train", "--algorithm", "em", "-c", "5", "-l", "2", "--epochs", "3", "--batch-size", "700"],
        ["dgmm", "train", "-c", "3,2", "-l", "3,1", "--epochs", "2", "--batch-size", "900"],
        // Batches of one 256-row chunk: rank 0 computes none of them, and its EM M-step must still
        // see the whole pass (its row count was once its own: 0).
        ["dgmm", "train", "-c", "3,2", "-l", "3,1", "--epochs", "3", "--em-epochs", "2", "--batch-size", "200"],
    ]

    @Test("-np 1 and -np 2 train bit-identical models (SGD, online EM, EM, DGMM, DGMM with EM epochs)", arguments: 0..<5)
    func ranksAgree(trainer index: Int) throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        var command = Self.trainers[index]
        command.insert(data, at: command[0] == "dgmm" ? 2 : 1)
        for processes in [1, 2] {
            #expect(try run(processes, command + ["--validation", data, "--out", workspace["np\(processes).safetensors"]]) == 0)
        }
        let (one, two) = (try tensors(workspace["np1.safetensors"]), try tensors(workspace["np2.safetensors"]))
        // Were nothing added up, rank 0 would train on its half of every batch and differ.
        #expect(!one.isEmpty && one == two, "\(command[0...2]): -np 1 and -np 2 differ")
    }

    @Test("Ranks started with different options (an MPMD launch) are refused before training; no model file")
    func ranksMustAgree() throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        let out = workspace["model.safetensors"]
        let mpirun = try #require(Self.mpirun)
        let common = ["train", data, "-c", "5", "-l", "2", "--epochs", "2", "--backend", "cpu", "--threads", "1", "-o", out]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "1", Tool.binary] + common + ["--seed", "1", ":",
                             "-np", "1", Tool.binary] + common + ["--seed", "2"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(said.contains("not started with the same options"), "\(said)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("A rank killed mid-run ends the job with a non-zero status and no model file")
    func deadRankEndsTheJob() throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        let out = workspace["model.safetensors"]
        let (job, ranks) = try launchTraining(["train", data, "--algorithm", "sgd", "-c", "5", "-l", "2", "--epochs", "100000", "--out", out])
        try #require(ranks.count == 2, "mpirun started \(ranks.count) ranks")
        kill(ranks.max()!, SIGKILL)
        job.waitUntilExit()
        #expect(job.terminationStatus != 0)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// EM stops inside a pass, so the checkpoint must hold the pass's sums over both ranks.
    static let interrupted: [[String]] = [
        ["--algorithm", "sgd", "--epochs", "200", "--batch-size", "1000"],
        ["--algorithm", "em", "--epochs", "300", "--tolerance", "0", "--batch-size", "300"],
        ["--algorithm", "online-em", "--epochs", "300", "--batch-size", "300"],
    ]

    @Test("SIGTERM to one rank stops every rank at the same step; the resumed job ends where an uninterrupted one does",
          arguments: 0..<3)
    func ranksStopTogether(algorithm index: Int) throws {
        let workspace = Workspace()
        let data = try writeData(workspace)
        let common = ["train", data, "-c", "5", "-l", "2", "--checkpoint", workspace["run.ckpt"], "--checkpoint-every", "100000"]
            + Self.interrupted[index]
        #expect(try run(2, common + ["--out", workspace["whole.safetensors"]]) == 0)
        let (job, ranks) = try launchTraining(common + ["--out", workspace["resumed.safetensors"]])
        try #require(ranks.count == 2, "mpirun started \(ranks.count) ranks")
        kill(ranks.max()!, SIGTERM)  // the rank that does not write: the stop must still be agreed
        job.waitUntilExit()
        #expect(job.terminationStatus == 143)
        #expect(FileManager.default.fileExists(atPath: workspace["run.ckpt"]), "rank 0 saved the checkpoint")
        #expect(try run(2, common + ["--resume", workspace["run.ckpt"], "--out", workspace["resumed.safetensors"]]) == 0)
        #expect(try tensors(workspace["whole.safetensors"]) == tensors(workspace["resumed.safetensors"]))
    }
}
