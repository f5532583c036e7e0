import Foundation
import MFA
import MFAIO
import Testing

/// The `mfa` tool end to end, through the built binary.
@Suite(.serialized) struct CommandTests {
    static let truth: MixtureModel = {
        let shape = try! MixtureShape(components: 2, dimension: 5, latent: 1)
        return try! MixtureModel(shape: shape, weights: [0.4, 0.6], means: [3, 0, 1, -2, 0, -3, 1, 0, 2, 0],
                                 loadings: [1, 0.5, 0, -0.5, 1, 0, 1, 1, 0.2, -1], noiseVariances: [0.3, 0.5, 0.2, 0.4, 0.6, 0.5, 0.3, 0.2, 0.4, 0.3])
    }()

    /// Writes training and test data drawn from `truth`; returns their paths.
    func writeData(_ workspace: Workspace) throws -> (train: String, test: String) {
        var random = RandomGenerator(seed: 1)
        let train = Self.truth.sample(count: 2000, random: &random).samples
        let test = Self.truth.sample(count: 300, random: &random).samples
        try Numpy.write(train.values.map(Double.init), shape: [2000, 5], dtype: "<f4", to: workspace["train.npy"])
        try Numpy.write(test.values.map(Double.init), shape: [300, 5], dtype: "<f8", to: workspace["test.npy"])
        return (workspace["train.npy"], workspace["test.npy"])
    }

    func train(_ workspace: Workspace) throws -> (model: String, test: String) {
        let (train, test) = try writeData(workspace)
        let outcome = try Tool.run(["train", train, "-c", "2", "-l", "1", "--epochs", "4", "--batch-size", "64",
                                    "--validation", test, "-o", workspace["m.safetensors"]])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("epoch 4/4") && outcome.stdout.contains("validation"))
        return (workspace["m.safetensors"], test)
    }

    @Test("score agrees with an independent dense computation on the saved file")
    func scoreMatchesDenseComputation() throws {
        let workspace = Workspace()
        let (model, test) = try train(workspace)
        let outcome = try Tool.run(["score", model, test, "-o", workspace["s.npy"]])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let scores = try Numpy.read(path: workspace["s.npy"])
        #expect(scores.dtype == "<f8" && scores.shape == [300])
        // Independent: the raw tensors of the file and a hand-written dense Cholesky in float64.
        let (tensors, _) = try Safetensors.read(path: model)
        let data = try Numpy.read(path: test)
        let reference = denseLogLikelihoods(tensors, data: data.values, d: 5)
        let worst = zip(scores.values, reference).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-3, "largest difference \(worst)")
        let mean = reference.reduce(0, +) / 300
        let printed = Double(outcome.stdout.split(separator: " ")[2]) ?? .nan
        #expect(abs(printed - mean) < 1e-3, "printed \(printed), dense \(mean)")
    }

    @Test("predict, sample and info produce what they promise")
    func predictSampleInfo() throws {
        let workspace = Workspace()
        let (model, test) = try train(workspace)
        let predicted = try Tool.run(["predict", model, test, "-o", workspace["l.npy"], "--probabilities", workspace["p.npy"]])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let labels = try Numpy.read(path: workspace["l.npy"]), probabilities = try Numpy.read(path: workspace["p.npy"])
        #expect(labels.shape == [300] && labels.dtype == "<i8" && probabilities.shape == [300, 2])
        for n in 0..<300 {
            let row = probabilities.values[(2 * n)..<(2 * n + 2)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-4)
            #expect(Int(labels.values[n]) == (row.first! >= row.last! ? 0 : 1))
        }
        let sampled = try Tool.run(["sample", model, "--count", "9", "-o", workspace["x.npy"], "--image", workspace["g.png"], "--shape", "1x5"])
        #expect(sampled.status == 0, "\(sampled.stderr)")
        #expect(try Numpy.read(path: workspace["x.npy"]).shape == [9, 5])
        let png = [UInt8](FileManager.default.contents(atPath: workspace["g.png"]) ?? Data())
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let info = try Tool.run(["info", model])
        #expect(info.stdout.contains("components K: 2") && info.stdout.contains("latent l: 1")
                && info.stdout.contains("training.epochs: 4"))
    }

    @Test("Errors exit non-zero with a one-line cause on stderr", arguments: [
        ["score", "MODEL", "WRONG_D"], ["score", "MODEL", "MISSING"], ["score", "WRONG_D", "TEST"],
        ["train", "TEST", "-c", "2", "-l", "5", "-o", "OUT"], ["train", "TEST", "-c", "301", "-l", "1", "-o", "OUT"],
        ["train", "TEST", "-c", "0", "-l", "1", "-o", "OUT"], ["train", "TEST", "-c", "2", "-l", "1", "-o", "OUT", "--batch-size", "0"],
        ["sample", "MODEL", "-o", "OUT", "--image", "IMG"],
        ["predict", "MODEL", "WRONG_D", "-o", "OUT"], ["outliers", "MODEL", "--inliers", "TEST", "--outliers", "MISSING"],
        ["select", "TEST", "-c", "1,x", "-l", "0", "-o", "OUT"], ["select", "TEST", "-c", "2", "-l", "0", "-o", "OUT", "--criterion", "validation"],
        ["info", "TEST"], ["train", "MISSING", "-c", "2", "-l", "1", "-o", "OUT"], ["train", "TEST", "-c", "2", "-l", "1", "-o", "OUT", "--init", "em:0"],
        ["train", "TEST", "-c", "2", "-l", "1", "-o", "OUT", "--init", "em:2"],  // em:N starts SGD: refused for online-em, not ignored
        ["reconstruct", "MODEL", "TEST", "--mask", "MISSING", "-o", "OUT"], ["train", "TEST", "-c", "2", "-l", "1", "-o", "OUT", "--resume", "MODEL"],
    ])
    func errorsAreClear(arguments: [String]) throws {
        let workspace = Workspace()
        let (model, test) = try train(workspace)
        try Numpy.write([1, 2, 3, 4], shape: [2, 2], dtype: "<f4", to: workspace["wrong.npy"])
        let substitutions = ["MODEL": model, "TEST": test, "WRONG_D": workspace["wrong.npy"], "MISSING": workspace["missing.npy"],
                             "OUT": workspace["out.safetensors"], "IMG": workspace["g.png"]]
        let outcome = try Tool.run(arguments.map { substitutions[$0] ?? $0 })
        #expect(outcome.status != 0)
        let lines = outcome.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(lines.count == 1, "stderr: \(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace["out.safetensors"]))
    }

    /// log p(x) from the covariance tensors: Σ_k = Λ_k Λ_kᵀ + diag(ψ_k), Cholesky by hand.
    func denseLogLikelihoods(_ tensors: [String: Tensor], data: [Float], d: Int) -> [Double] {
        let weights = tensors["weights"]!.values, means = tensors["means"]!.values
        let loadings = tensors["loadings"]!, noise = tensors["noise_variances"]!.values
        let (k, l) = (weights.count, loadings.shape[2])
        return stride(from: 0, to: data.count, by: d).map { start in
            let joint = (0..<k).map { c -> Double in
                var sigma = [Double](repeating: 0, count: d * d)
                for i in 0..<d {
                    for j in 0..<d {
                        sigma[i * d + j] = (i == j ? Double(noise[c * d + i]) : 0)
                            + (0..<l).reduce(0.0) { $0 + Double(loadings.values[(c * d + i) * l + $1]) * Double(loadings.values[(c * d + j) * l + $1]) }
                    }
                }
                var lower = [Double](repeating: 0, count: d * d)
                for i in 0..<d {
                    for j in 0...i {
                        let s = sigma[i * d + j] - (0..<j).reduce(0.0) { $0 + lower[i * d + $1] * lower[j * d + $1] }
                        lower[i * d + j] = i == j ? s.squareRoot() : s / lower[j * d + j]
                    }
                }
                var y = (0..<d).map { Double(data[start + $0]) - Double(means[c * d + $0]) }
                for i in 0..<d {
                    for j in 0..<i { y[i] -= lower[i * d + j] * y[j] }
                    y[i] /= lower[i * d + i]
                }
                let logDet = (0..<d).reduce(0.0) { $0 + 2 * log(lower[$1 * d + $1]) }
                return log(Double(weights[c])) - 0.5 * (Double(d) * log(2 * Double.pi) + logDet + y.reduce(0) { $0 + $1 * $1 })
            }
            let top = joint.max()!
            return top + log(joint.reduce(0) { $0 + exp($1 - top) })
        }
    }
}

/// Float32's range is checked against float64 before a score is trusted.
@Suite struct PrecisionFallbackTests {
    @Test("score on far, tight clusters warns and scores every row in float64; train warns too")
    func farClustersScoreInFloat64() throws {
        let workspace = Workspace()
        let shape = try MixtureShape(components: 2, dimension: 4, latent: 1)
        var random = RandomGenerator(seed: 8)
        let model = try MixtureModel(shape: shape, weights: [0.4, 0.6], means: [0, 0, 0, 0, 1e4, 1e4, 1e4, 1e4],
                                     loadings: (0..<8).map { _ in Float(0.2 * random.normal()) },
                                     noiseVariances: [Float](repeating: 0.01, count: 8))
        let data = model.sample(count: 400, random: &random).samples
        try Numpy.write(data.values.map(Double.init), shape: [400, 4], dtype: "<f4", to: workspace["data.npy"])
        try ModelFile.write(model, metadata: [:], to: workspace["truth.safetensors"])
        let scored = try Tool.run(["score", workspace["truth.safetensors"], workspace["data.npy"], "--out", workspace["scores.npy"],
                                   "--backend", "cpu"])
        #expect(scored.status == 0 && scored.stderr.contains("not precise enough"), "\(scored.stderr)")
        let expected = try PreciseLogDensity(model).logDensities(data, rows: Array(0..<400))
        let written = try Numpy.read(path: workspace["scores.npy"]).values
        #expect(written.count == 400 && zip(written, expected).allSatisfy { abs(Double($0) - $1) < 1e-4 * max(1, abs($1)) }, "the scores are float32 (read back as float32)")
        let trained = try Tool.run(["train", workspace["data.npy"], "-c", "2", "-l", "1", "--epochs", "3", "--backend", "cpu",
                                    "-o", workspace["model.safetensors"]])
        #expect(trained.status == 0 && trained.stderr.contains("not precise enough"), "\(trained.stderr)")
    }
}

/// `select` keeps no checkpoints, but a signal still ends it cleanly.
@Suite struct SelectSignalTests {
    @Test("SIGTERM stops select after a batch with status 143, one line, and no model file")
    func selectStopsOnSignal() throws {
        let workspace = Workspace()
        var random = RandomGenerator(seed: 4)
        let values = (0..<(2000 * 6)).map { _ in random.normal() }
        try Numpy.write(values, shape: [2000, 6], dtype: "<f4", to: workspace["x.npy"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tool.binary)
        process.arguments = ["select", workspace["x.npy"], "-c", "2,3", "-l", "1", "--algorithm", "sgd", "--epochs", "100000",
                             "--backend", "cpu", "-o", workspace["best.safetensors"]]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var seen = ""
        while !seen.contains("|----") {
            let data = out.fileHandleForReading.availableData
            guard !data.isEmpty else { break }
            seen += String(decoding: data, as: UTF8.self)
        }
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGTERM)
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143)
        #expect(said.contains("interrupted:"), "\(said)")
        #expect(!FileManager.default.fileExists(atPath: workspace["best.safetensors"]))
    }
}
