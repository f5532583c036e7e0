import Foundation
import MFA
import MFAIO
import Testing

/// EM, warm starts, model selection, outliers and in-painting through the built binary.
extension CommandTests {
    @Test("EM trains, and --from continues exactly where the saved model left off")
    func emAndWarmStart() throws {
        let workspace = Workspace()
        let (train, _) = try writeData(workspace)
        let first = try Tool.run(["train", train, "-c", "2", "-l", "1", "--algorithm", "em", "--max-iterations", "3",
                                  "-o", workspace["em.safetensors"]])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("iteration 3/3") && first.stderr.contains("did not converge"))
        let scored = try Tool.run(["score", workspace["em.safetensors"], train])
        let resumed = try Tool.run(["train", train, "-c", "2", "-l", "1", "--algorithm", "em", "--max-iterations", "1",
                                    "--from", workspace["em.safetensors"], "-o", workspace["em2.safetensors"]])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // The first E-step of the resumed run scores the saved model on the same data.
        let mean = Double(scored.stdout.split(separator: " ")[2])!
        #expect(resumed.stdout.contains(String(format: "train %.2f", mean)), "\(resumed.stdout) vs \(mean)")
        let mismatch = try Tool.run(["train", train, "-c", "3", "-l", "1", "--from", workspace["em.safetensors"], "-o", workspace["x.safetensors"]])
        #expect(mismatch.status != 0 && mismatch.stderr.contains("starting model"))
        let sgd = try Tool.run(["train", train, "-c", "2", "-l", "1", "--algorithm", "sgd", "--init", "em:2", "--epochs", "1", "--noise", "isotropic",
                                "-o", workspace["sgd.safetensors"]])
        #expect(sgd.status == 0, "\(sgd.stderr)")
        let info = try Tool.run(["info", workspace["sgd.safetensors"]])
        #expect(info.stdout.contains("training.em_iterations_before_sgd: 2") && info.stdout.contains("noise: isotropic"))
        // SGD's own defaults (sgdAdamBeta1, sgdGroupRateMultipliers; a batch of 256 on these few rows), recorded in the model.
        #expect(info.stdout.contains("training.batch_size: 256") && info.stdout.contains("training.adam_beta1: 0.99")
                && info.stdout.contains("training.rate_multiplier.logPrecision: 2.7"), "\(info.stdout)")
    }

    @Test("--restarts keeps the restart with the best final training log-likelihood; --history holds its epochs")
    func restartsAndHistory() throws {
        let workspace = Workspace()
        let (train, test) = try writeData(workspace)
        for algorithm in ["sgd", "em", "online-em"] {
            let outcome = try Tool.run(["train", train, "-c", "3", "-l", "1", "--algorithm", algorithm, "--epochs", "3",
                                        "--restarts", "3", "--validation", test, "--history", workspace["h.csv"],
                                        "-o", workspace["m.safetensors"]])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            for restart in 1...3 { #expect(outcome.stdout.contains("restart \(restart)/3 "), "\(algorithm): \(outcome.stdout)") }
            let kept = try #require(outcome.stdout.split(separator: "\n").first { $0.hasPrefix("kept restart") }, "\(outcome.stdout)")
            let info = try Tool.run(["info", workspace["m.safetensors"]]).stdout
            #expect(kept.contains("restart \(info.split(separator: "\n").first { $0.hasPrefix("training.best_restart") }!.split(separator: " ").last!) of 3"))
            // The kept restart's final training log-likelihood is the file's, and no lower than any restart's last epoch's.
            let lines = try String(contentsOfFile: workspace["h.csv"], encoding: .utf8).split(separator: "\n")
            #expect(lines.first == "epoch,seconds,train_ll,validation_ll")
            // Row 0 is the start (scored on the validation data, its train_ll empty), then the three epochs.
            #expect(lines.count == 5 && lines.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 4 })
            let start = lines.count > 1 ? lines[1].split(separator: ",", omittingEmptySubsequences: false) : []
            #expect(start.count == 4 && start[0] == "0" && start[2].isEmpty && Double(start[3]) != nil, "\(algorithm): \(lines)")
            let seconds = lines.dropFirst().map { Double($0.split(separator: ",")[1])! }
            #expect(seconds == seconds.sorted() && seconds.allSatisfy { $0 > 0 })
            // The file's validation figure is the kept restart's last, as its history says.
            let recorded = info.split(separator: "\n").first { $0.contains("validation_log_likelihood") }.flatMap { Double($0.split(separator: " ").last!) }
            let lastValidation = lines.last.flatMap { Double($0.split(separator: ",", omittingEmptySubsequences: false)[3]) }
            #expect(recorded != nil && recorded == lastValidation, "\(algorithm): \(String(describing: recorded)) vs \(String(describing: lastValidation))")
        }
    }

    @Test("--tolerance stops every algorithm once the training log-likelihood settles, and says so")
    func toleranceStops() throws {
        let workspace = Workspace()
        let (train, _) = try writeData(workspace)
        for algorithm in ["sgd", "em", "online-em"] {
            let outcome = try Tool.run(["train", train, "-c", "2", "-l", "1", "--algorithm", algorithm, "--epochs", "200",
                                        "--tolerance", "0.05", "-o", workspace["m.safetensors"]])
            #expect(outcome.status == 0 && outcome.stderr.contains("converged after"), "\(algorithm): \(outcome.stderr)")
            #expect(!outcome.stdout.contains("/200  train") || !outcome.stdout.contains("200/200"), "\(algorithm) ran every epoch")
        }
    }

    @Test("select prints the grid and writes the best model by BIC")
    func selectWritesBest() throws {
        let workspace = Workspace()
        let (train, test) = try writeData(workspace)
        let outcome = try Tool.run(["select", train, "-c", "1,2,3", "-l", "0,1", "--algorithm", "em", "--validation", test,
                                    "-o", workspace["best.safetensors"]])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("|") }.count == 2 + 6)
        #expect(outcome.stdout.contains("best by bic: K=2 l=1"), "\(outcome.stdout)")
        #expect(try ModelFile.read(workspace["best.safetensors"]).model.shape.components == 2)
    }

    @Test("outliers prints an AUROC and writes the ROC curve")
    func outliersReportAUROC() throws {
        let workspace = Workspace()
        let (model, test) = try train(workspace)
        // Outliers: the test data shifted far away.
        let shifted = try Numpy.read(path: test).values.map { Double($0) + 8 }
        try Numpy.write(shifted, shape: [300, 5], dtype: "<f4", to: workspace["far.npy"])
        let outcome = try Tool.run(["outliers", model, "--inliers", test, "--outliers", workspace["far.npy"], "--roc", workspace["roc.csv"]])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("AUROC 1.0000"))
        let csv = String(decoding: FileManager.default.contents(atPath: workspace["roc.csv"]) ?? Data(), as: UTF8.self)
        #expect(csv.hasPrefix("threshold,false_positive_rate,true_positive_rate\ninf,0.0,0.0"))
    }

    @Test("reconstruct fills exactly the masked values, and writes the image grid")
    func reconstructFillsMasked() throws {
        let workspace = Workspace()
        let (model, test) = try train(workspace)
        try Numpy.write([0, 1, 0, 0, 1], shape: [5], dtype: "<f8", to: workspace["mask.npy"])
        let outcome = try Tool.run(["reconstruct", model, test, "--mask", workspace["mask.npy"], "-o", workspace["filled.npy"],
                                    "--image", workspace["grid.png"], "--shape", "1x5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let before = try Numpy.read(path: test).values, after = try Numpy.read(path: workspace["filled.npy"]).values
        var observedKept = true, maskedFilled = 0
        for n in 0..<300 {
            for j in [0, 2, 3] where before[n * 5 + j] != after[n * 5 + j] { observedKept = false }
            if before[n * 5 + 1] != after[n * 5 + 1] || before[n * 5 + 4] != after[n * 5 + 4] { maskedFilled += 1 }
        }
        #expect(observedKept && maskedFilled == 300)
        #expect(FileManager.default.fileExists(atPath: workspace["grid.png"]))
        try Numpy.write([1, 0], shape: [2], dtype: "<f8", to: workspace["short.npy"])
        let short = try Tool.run(["reconstruct", model, test, "--mask", workspace["short.npy"], "-o", workspace["y.npy"]])
        #expect(short.status != 0 && short.stderr.contains("short.npy"))
    }
}

extension CommandTests {
    @Test("mfa bench prints the table and writes its CSV with the documented header")
    func benchWritesCSV() throws {
        let workspace = Workspace()
        let outcome = try Tool.run(["bench", "-c", "3", "-l", "1", "-d", "8", "--batch-size", "16", "--algorithm", "sgd,online-em",
                                    "--csv", workspace["bench.csv"]])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("| cpu | sgd | 3 | 16 |") && outcome.stdout.contains("| cpu | online-em | 3 | 16 |"), "\(outcome.stdout)")
        let lines = try String(contentsOfFile: workspace["bench.csv"], encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "backend,device,algorithm,K,l,d,batch,samples_per_s,ms_per_step,train_gflops,gemm_gflops,ratio")
        #expect(lines.count == 3)
        for line in lines.dropFirst() {
            // The device name is quoted (it holds a comma); the figures after it are positive numbers.
            let figures = line.split(separator: "\"").last!.split(separator: ",").dropFirst(5).compactMap { Double($0) }
            #expect(figures.count == 5 && figures.allSatisfy { $0 > 0 }, "\(line)")
        }
    }
}

extension CommandTests {
    @Test("Outputs with one-character names in the working folder are written (Foundation's path call trapped on them)")
    func oneCharacterOutputNames() throws {
        let workspace = Workspace()
        let (train, _) = try writeData(workspace)
        // "c" itself was one that trapped.
        let outcome = try Tool.run(["train", train, "-c", "2", "-l", "1", "--epochs", "2", "-o", "c", "--checkpoint", "k",
                                    "--checkpoint-every", "1", "--history", "h"], in: workspace.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for name in ["c", "k", "h"] { #expect(FileManager.default.fileExists(atPath: workspace[name]), "\(name)") }
        #expect(PathText.directory(of: "c") == "" && PathText.directory(of: "/c") == "/" && PathText.directory(of: "a/b/") == "a"
                && PathText.directory(of: "./c") == "." && PathText.directory(of: "/x/y") == "/x")
    }
}

extension CommandTests {
    @Test("Mixing weights sum to 1 when EM leaves a component empty (three rows at 10⁶–10⁸ among four clusters)",
          arguments: ["online-em", "em"])
    func weightsSumToOneWithEmptyComponents(algorithm: String) throws {
        let workspace = Workspace()
        var random = RandomGenerator(seed: 7)
        var values = [Double]()
        for n in 0..<800 { for j in 0..<5 { values.append((n % 4 > 0 && j == n % 4 - 1 ? 10 : 0) + random.normal()) } }
        for (j, far) in [(0, 1e6), (1, -1e7), (3, 1e8)] { values += (0..<5).map { $0 == j ? far : 0 } }
        try Numpy.write(values, shape: [803, 5], dtype: "<f4", to: workspace["far.npy"])
        let outcome = try Tool.run(["train", workspace["far.npy"], "-c", "5", "-l", "1", "--epochs", "5", "--init", "random",
                                    "--algorithm", algorithm, "-o", workspace["m.safetensors"]])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let weights = try ModelFile.read(workspace["m.safetensors"]).model.weights
        #expect(abs(weights.reduce(0, +) - 1) < 1e-5, "weights \(weights)")
    }
}

extension CommandTests {
    @Test("Three rows at 10⁶–10⁸ do not set the units: every trainer still finds the four clusters around them",
          arguments: ["sgd", "online-em", "em"])
    func farRowsLeaveTheClusters(algorithm: String) throws {
        let workspace = Workspace()
        var random = RandomGenerator(seed: 7)
        var values = [Double](), labels = [Double]()
        for n in 0..<800 {
            for j in 0..<5 { values.append((n % 4 > 0 && j == n % 4 - 1 ? 10 : 0) + random.normal()) }
            labels.append(Double(n % 4))
        }
        try Numpy.write(values, shape: [800, 5], dtype: "<f4", to: workspace["near.npy"])
        try Numpy.write(labels, shape: [800], dtype: "<i8", to: workspace["labels.npy"])
        for (j, far) in [(0, 1e6), (1, -1e7), (3, 1e8)] { values += (0..<5).map { $0 == j ? far : 0 } }
        try Numpy.write(values, shape: [803, 5], dtype: "<f4", to: workspace["far.npy"])
        // Before: the mean and scale of all rows, 10⁵ from the clusters: ARI 0 for all three.
        let trained = try Tool.run(["train", workspace["far.npy"], "-c", "7", "-l", "1", "--algorithm", algorithm, "--seed", "1",
                                    "-o", workspace["m.safetensors"]])
        #expect(trained.status == 0 && trained.stderr.contains("3 rows (the farthest: row 802) lie more than 100 times"),
                "\(trained.stderr)")
        #expect(try Tool.run(["predict", workspace["m.safetensors"], workspace["near.npy"], "-o", workspace["p.npy"]]).status == 0)
        let ari = try Tool.run(["ari", workspace["labels.npy"], workspace["p.npy"]])
        #expect(Double(ari.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0.95, "\(ari.stdout)")
    }
}
