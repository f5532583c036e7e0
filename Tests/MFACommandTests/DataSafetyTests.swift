import Foundation
import MFA
import MFAIO
import Testing

/// Issue 11: nothing a user types destroys their data, crashes, or passes a fault silently.
@Suite(.serialized) struct DataSafetyTests {
    /// A workspace with data D.npy (400 × 4), a trained model M.safetensors and a mask.
    static func prepared() throws -> Workspace {
        let workspace = Workspace()
        var random = RandomGenerator(seed: 3)
        let values = (0..<(400 * 4)).map { i in Double(i % 4 == 0 ? (i / 4 % 2 == 0 ? 3 : -3) : 0) + random.normal() }
        try Numpy.write(values, shape: [400, 4], dtype: "<f4", to: workspace["D.npy"])
        try Numpy.write([0, 0, 1, 1], shape: [4], dtype: "<f4", to: workspace["mask.npy"])
        let trained = try Tool.run(["train", workspace["D.npy"], "-c", "2", "-l", "1", "--epochs", "1", "-o", workspace["M.safetensors"]])
        #expect(trained.status == 0, "\(trained.stderr)")
        return workspace
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func errorLines(_ outcome: Tool.Outcome) -> [Substring] {
        outcome.stderr.split(separator: "\n").filter { !$0.hasPrefix("backend:") }
    }

    /// Runs `arguments` (names with a dot are files in `workspace`) and expects a refusal: a
    /// failure with one `Error:` line containing `phrase`, and the files `keeping` unchanged.
    func expectRefused(_ arguments: [String], in workspace: Workspace, keeping files: [String], saying phrase: String) throws
        -> Tool.Outcome {
        let before = files.map { bytes(workspace[$0]) }
        let outcome = try Tool.run(arguments.map { $0.contains(".") ? workspace[$0] : $0 })
        #expect(outcome.status != 0)
        let lines = errorLines(outcome)
        #expect(lines.count == 1 && lines[0].hasPrefix("Error:") && lines[0].contains(phrase), "\(outcome.stderr)")
        #expect(files.map { bytes(workspace[$0]) } == before)
        return outcome
    }

    @Test("An output naming an input (or another output) is refused before any work; the input's bytes are unchanged", arguments: [
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "D.npy"],
        ["select", "D.npy", "-c", "2", "-l", "1", "-o", "D.npy"],
        ["score", "M.safetensors", "D.npy", "-o", "D.npy"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "new.safetensors", "--checkpoint", "D.npy"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "new.safetensors", "--from", "M.safetensors", "--checkpoint", "M.safetensors"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "new.safetensors", "--validation", "D.npy", "--checkpoint", "./D.npy"],
        ["sample", "M.safetensors", "-o", "M.safetensors"],
        ["predict", "M.safetensors", "D.npy", "-o", "M.safetensors"],
        ["predict", "M.safetensors", "D.npy", "-o", "p.npy", "--probabilities", "p.npy"],
        ["reconstruct", "M.safetensors", "D.npy", "--mask", "mask.npy", "-o", "mask.npy"],
        ["simulate", "dgmm", "-c", "2,2", "-l", "2,1", "-d", "4", "--count", "10", "-o", "x.npy", "--labels", "x.npy"],
        ["dgmm", "train", "D.npy", "-c", "2", "-l", "1", "-o", "D.npy"],
        ["outliers", "M.safetensors", "--inliers", "D.npy", "--outliers", "D.npy", "--roc", "D.npy"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "hardlink.npy"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "symlink.npy"],
    ])
    func outputsNeverReplaceInputs(arguments: [String]) throws {
        let workspace = try Self.prepared()
        try FileManager.default.linkItem(atPath: workspace["D.npy"], toPath: workspace["hardlink.npy"])
        try FileManager.default.createSymbolicLink(atPath: workspace["symlink.npy"], withDestinationPath: "D.npy")
        let outcome = try expectRefused(arguments, in: workspace, keeping: ["D.npy", "M.safetensors", "mask.npy"], saying: "same file")
        #expect(!outcome.stdout.contains("epoch"), "refused before training")
        for name in ["p.npy", "x.npy", "new.safetensors"] { #expect(!FileManager.default.fileExists(atPath: workspace[name])) }
    }

    @Test("A model continued in place and a run continuing its own checkpoint are allowed")
    func inPlaceUsesAreAllowed() throws {
        let workspace = try Self.prepared()
        let model = workspace["M.safetensors"], before = bytes(model)
        let continued = try Tool.run(["train", workspace["D.npy"], "-c", "2", "-l", "1", "--epochs", "1", "--from", model, "-o", model])
        #expect(continued.status == 0, "\(continued.stderr)")
        #expect(bytes(model) != before)
        let checkpoint = workspace["run.ckpt"]
        let arguments = ["train", workspace["D.npy"], "-c", "2", "-l", "1", "--epochs", "2", "--checkpoint", checkpoint,
                         "--checkpoint-every", "1", "-o", workspace["n.safetensors"]]
        #expect(try Tool.run(arguments).status == 0)
        let resumed = try Tool.run(arguments + ["--resume", checkpoint])
        #expect(!resumed.stderr.contains("same file"), "\(resumed.stderr)")
    }

    @Test("An output over an existing file of another kind (data, a model, a checkpoint, an image) is refused before any work; the file is unchanged",
          arguments: [
        ["bench", "-c", "2", "-l", "1", "-d", "4", "--csv", "D.npy"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "data.csv"],
        ["score", "M.safetensors", "D.npy", "-o", "copy.safetensors"],
        ["sample", "M.safetensors", "--count", "4", "-o", "s.npy", "--image", "mask.npy"],
        ["outliers", "M.safetensors", "--inliers", "D.npy", "--outliers", "mask.npy", "--roc", "copy.safetensors"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "new.safetensors", "--checkpoint", "copy.safetensors"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "run.ckpt"],
        ["train", "D.npy", "-c", "2", "-l", "1", "-o", "new.safetensors", "--history", "image.fits"],
    ])
    func outputsNeverReplaceOtherKinds(arguments: [String]) throws {
        let workspace = try Self.prepared()
        try FileManager.default.copyItem(atPath: workspace["M.safetensors"], toPath: workspace["copy.safetensors"])
        try Data("1,2,3,4\n5,6,7,8\n".utf8).write(to: URL(fileURLWithPath: workspace["data.csv"]))
        // A FITS image: 2,880 bytes of ASCII header cards, then binary pixels.
        let header = "SIMPLE  =                    T" + String(repeating: " ", count: 2850)
        try Data(Array(header.utf8) + [0, 1, 2, 3, 0xFF]).write(to: URL(fileURLWithPath: workspace["image.fits"]))
        let run = try Tool.run(["train", workspace["D.npy"], "-c", "2", "-l", "1", "--epochs", "1", "--checkpoint", workspace["run.ckpt"],
                                "--checkpoint-every", "1", "-o", workspace["n.safetensors"]])
        #expect(run.status == 0, "\(run.stderr)")
        _ = try expectRefused(arguments, in: workspace, keeping: ["D.npy", "M.safetensors", "mask.npy", "copy.safetensors", "data.csv",
                                                                  "image.fits", "run.ckpt"],
                              saying: "refusing to replace it")
        #expect(!FileManager.default.fileExists(atPath: workspace["s.npy"]))
    }

    @Test("An output replaces an existing file of its own kind (a model, an array, a CSV table)")
    func outputsReplaceTheirOwnKind() throws {
        let workspace = try Self.prepared()
        try FileManager.default.copyItem(atPath: workspace["M.safetensors"], toPath: workspace["copy.safetensors"])
        try Data("epoch,seconds\n".utf8).write(to: URL(fileURLWithPath: workspace["h.csv"]))
        let trained = try Tool.run(["train", workspace["D.npy"], "-c", "2", "-l", "1", "--epochs", "1", "-o", workspace["copy.safetensors"],
                                    "--history", workspace["h.csv"]])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(String(decoding: bytes(workspace["h.csv"]) ?? Data(), as: UTF8.self).hasPrefix("epoch,seconds,train_ll"))
        let scored = try Tool.run(["score", workspace["M.safetensors"], workspace["D.npy"], "-o", workspace["mask.npy"]])
        #expect(scored.status == 0, "\(scored.stderr)")
    }

    @Test("An output whose folder is missing is refused before training")
    func missingOutputFolderIsRefusedFirst() throws {
        let workspace = try Self.prepared()
        let outcome = try Tool.run(["train", workspace["D.npy"], "-c", "2", "-l", "1", "-o", workspace["nowhere/m.safetensors"]])
        #expect(outcome.status != 0 && !outcome.stdout.contains("epoch"))
        #expect(errorLines(outcome) == ["Error: \(workspace["nowhere/m.safetensors"]): its folder \(FileIdentity(workspace["nowhere"]).resolvedPath) does not exist"])
    }

    @Test("A device node as -o stays a device node and receives the bytes")
    func deviceOutputIsWrittenDirectly() throws {
        let workspace = Workspace()
        let node = workspace["null"]
        let arguments = ["simulate", "dgmm", "-c", "2,2", "-l", "2,1", "-d", "4", "--count", "10", "-o", node]
        if mknod(node, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0 {  // /dev/null's numbers: major 1, minor 3
            let outcome = try Tool.run(arguments)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let type = try FileManager.default.attributesOfItem(atPath: node)[.type] as? FileAttributeType
            #expect(type == .typeCharacterSpecial)
        } else {  // not permitted here: a FIFO, read while the command writes
            #expect(mkfifo(node, 0o666) == 0)
            nonisolated(unsafe) var received = Data()
            let reader = Thread { received = FileHandle(forReadingAtPath: node)!.readDataToEndOfFile() }
            reader.start()
            let outcome = try Tool.run(arguments)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
            #expect(received.starts(with: [0x93] + Array("NUMPY".utf8)))
            let type = try FileManager.default.attributesOfItem(atPath: node)[.type] as? FileAttributeType
            #expect(type != nil && type != .typeRegular)
        }
    }

    @Test("A folder or a FIFO given as data is one line, not a crash", arguments: [
        ["score", "M.safetensors", "DIR"], ["train", "DIR", "-c", "2", "-l", "1", "-o", "o.safetensors"],
        ["dgmm", "train", "DIR", "-c", "2", "-l", "1", "-o", "o.safetensors"], ["score", "M.safetensors", "FIFO"],
        ["info", "DIR"], ["train", "D.npy", "-c", "2", "-l", "1", "-o", "DIR"],
    ])
    func foldersAndPipesAsInput(arguments: [String]) throws {
        let workspace = try Self.prepared()
        try FileManager.default.createDirectory(atPath: workspace["DIR"], withIntermediateDirectories: true)
        #expect(mkfifo(workspace["FIFO"], 0o644) == 0)
        let outcome = try Tool.run(arguments.map { $0.contains(".") || $0 == "DIR" || $0 == "FIFO" ? workspace[$0] : $0 })
        #expect(outcome.status == 1)
        let lines = errorLines(outcome)
        #expect(lines.count == 1 && lines[0].hasPrefix("Error:"), "\(outcome.stderr)")
    }

    @Test("Counts and shapes beyond physical memory are refused with the size they need", arguments: [
        ["sample", "M.safetensors", "--count", "100000000000", "-o", "s.npy"],
        ["simulate", "dgmm", "-c", "2,2", "-l", "2,1", "--count", "1000000000000", "-o", "s.npy"],
        ["simulate", "dgmm", "-c", "3,3,2", "-l", "11,6,2", "-d", "100000000", "--count", "4000", "-o", "s.npy"],
    ])
    func oversizedRequestsAreRefused(arguments: [String]) throws {
        let workspace = try Self.prepared()
        let outcome = try Tool.run(arguments.map { $0.contains(".") ? workspace[$0] : $0 })
        #expect(outcome.status == 1)
        let lines = errorLines(outcome)
        #expect(lines.count == 1 && lines[0].contains("would need") && lines[0].contains("iB of memory"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace["s.npy"]))
    }

    @Test("A mixture too large for memory is refused before training; its 8 GB memory-mapped data do not count")
    func oversizedTrainingIsRefused() throws {
        let workspace = Workspace()
        // A sparse .npy of 1,000,000 × 2,000 float32 zeros: 8 GB on paper, no disk blocks.
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 2000), }"
        let padded = header + String(repeating: " ", count: (64 - (10 + header.count + 1) % 64) % 64) + "\n"
        let prefix = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.count), 0] + Array(padded.utf8)
        #expect(FileManager.default.createFile(atPath: workspace["big.npy"], contents: Data(prefix)))
        #expect(truncate(workspace["big.npy"], off_t(prefix.count + 1_000_000 * 2_000 * 4)) == 0)
        // Past the memory check, stopped by the missing --from before any training.
        let small = try Tool.run(["train", workspace["big.npy"], "-c", "2", "-l", "1", "--from", workspace["absent.safetensors"],
                                  "-o", workspace["m.safetensors"]])
        #expect(small.stderr.contains("absent.safetensors: no such file"), "a mapped input is not counted: \(small.stderr)")
        let outcome = try Tool.run(["train", workspace["big.npy"], "-c", "100000", "-l", "1999", "--batch-size", "256",
                                    "-o", workspace["m.safetensors"]])
        #expect(outcome.status == 1)
        #expect(errorLines(outcome) == ["Error: K=100000 l=1999 in d=2000 would need 11.8 TiB of memory; this machine has \(MemoryLimit.byteText(MemoryLimit.physicalBytes))"])
    }

    @Test("reconstruct --count 0 is refused before anything is written")
    func reconstructCountZero() throws {
        let workspace = try Self.prepared()
        let outcome = try Tool.run(["reconstruct", workspace["M.safetensors"], workspace["D.npy"], "--mask", workspace["mask.npy"],
                                    "-o", workspace["r.npy"], "--image", workspace["r.png"], "--count", "0", "--shape", "2x2"])
        #expect(outcome.status != 0 && outcome.stderr.contains("--count must be at least 1"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace["r.npy"]))
    }

    @Test("A checkpoint or model with one flipped byte is refused", arguments: ["checkpoint", "model"])
    func flippedByteIsRefused(kind: String) throws {
        let workspace = try Self.prepared()
        let checkpoint = workspace["run.ckpt"]
        let arguments = ["train", workspace["D.npy"], "-c", "2", "-l", "1", "--epochs", "1", "--checkpoint", checkpoint,
                         "--checkpoint-every", "1", "-o", workspace["n.safetensors"]]
        #expect(try Tool.run(arguments).status == 0)
        let target = kind == "checkpoint" ? checkpoint : workspace["M.safetensors"]
        var data = try #require(bytes(target))
        data[data.count - 3] ^= 0x10
        try data.write(to: URL(fileURLWithPath: target))
        let outcome = kind == "checkpoint" ? try Tool.run(arguments + ["--resume", checkpoint])
                                           : try Tool.run(["score", target, workspace["D.npy"]])
        #expect(outcome.status == 1)
        #expect(errorLines(outcome).count == 1 && outcome.stderr.contains("corrupted: checksum"), "\(outcome.stderr)")
    }

    @Test("mfa --version prints a version; mfa help with an unknown command fails")
    func versionAndHelp() throws {
        let version = try Tool.run(["--version"])
        #expect(version.status == 0 && version.stdout.split(separator: ".").count == 3)
        let help = try Tool.run(["help", "nonsense"])
        #expect(help.status != 0 && help.stderr.contains("nonsense"))
        #expect(try Tool.run(["help", "dgmm", "train"]).status == 0)
    }

    @Test("An error while running is one Error line, without the usage text")
    func runtimeErrorsHaveNoUsage() throws {
        let workspace = try Self.prepared()
        let outcome = try Tool.run(["predict", workspace["M.safetensors"], workspace["D.npy"], "-o", workspace["l.npy"], "--layer", "1"])
        #expect(outcome.status == 1)
        #expect(errorLines(outcome).count == 1 && !outcome.stderr.contains("Usage"), "\(outcome.stderr)")
    }
}
