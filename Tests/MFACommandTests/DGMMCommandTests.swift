import Foundation
import MFA
import MFAIO
import Testing

/// `mfa simulate dgmm`, `mfa dgmm train`, `mfa ari`, and the commands that read DGMM models.
@Suite struct DGMMCommandTests {
    /// Simulated data with known paths, and a DGMM trained on them.
    func trained(_ workspace: Workspace) throws -> (data: String, model: String, stdout: String) {
        let simulated = try Tool.run(["simulate", "dgmm", "-c", "2,2", "-l", "3,1", "-d", "6", "--count", "800", "--seed", "5",
                                      "--separation", "4", "-o", workspace["x.npy"], "--labels", workspace["paths.npy"],
                                      "--layer-labels", workspace["layers.npy"], "--model", workspace["true.safetensors"]])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let trained = try Tool.run(["dgmm", "train", workspace["x.npy"], "-c", "2,2", "-l", "3,1", "--epochs", "150",
                                    "--batch-size", "128", "--restarts", "2", "--seed", "3", "--backend", "cpu",
                                    "-o", workspace["m.safetensors"]])
        #expect(trained.status == 0, "\(trained.stderr)")
        return (workspace["x.npy"], workspace["m.safetensors"], trained.stdout)
    }

    @Test("simulate, train, predict (paths and --layer), ari, score, sample and info work together")
    func endToEnd() throws {
        let workspace = Workspace()
        let (data, model, stdout) = try trained(workspace)
        #expect(stdout.contains("restart 2/2") && stdout.contains("BIC"), "\(stdout)")
        // The data are in the simulation's units, columns in the hundreds; the model describes them as given.
        let x = try Numpy.read(path: data)
        #expect(x.shape == [800, 6] && x.values.reduce(0, +) / 4800 > 50)
        let (tensors, metadata) = try Safetensors.read(path: model)
        #expect(metadata["kind"] == "dgmm" && metadata["components"] == "2,2" && metadata["latent"] == "3,1")
        // The DGMM keeps its own Adam β₁ and group rates, not MFA SGD's (TrainingOptions.sgdAdamBeta1).
        #expect(metadata["training.adam_beta1"] == "0.9" && metadata["training.rate_multiplier.means"] == "1.0", "\(metadata)")
        #expect(tensors["layers.1.loadings"]?.shape == [2, 6, 3] && tensors["layers.2.noise_variances"]?.shape == [2, 3])

        #expect(try Tool.run(["predict", model, data, "-o", workspace["p.npy"]]).status == 0)
        let ari = try Tool.run(["ari", workspace["paths.npy"], workspace["p.npy"]])
        #expect(ari.status == 0 && Double(ari.stdout.trimmingCharacters(in: .whitespacesAndNewlines))! > 0.95, "\(ari.stdout)")
        #expect(try Tool.run(["predict", model, data, "--layer", "2", "-o", workspace["l2.npy"]]).status == 0)
        let paths = try Numpy.read(path: workspace["p.npy"]).values, layer2 = try Numpy.read(path: workspace["l2.npy"]).values
        #expect(zip(paths, layer2).allSatisfy { Int($0) % 2 == Int($1) })  // path = g1·2 + g2
        let layerARI = try Tool.run(["ari", workspace["layers.npy"], workspace["l2.npy"], "--layer", "2"])
        #expect(layerARI.status == 0, "\(layerARI.stderr)")

        let fitted = try Tool.run(["score", model, data]), truth = try Tool.run(["score", workspace["true.safetensors"], data])
        let mean = { (o: Tool.Outcome) in Double(o.stdout.split(separator: " ")[2])! }
        #expect(abs(mean(fitted) - mean(truth)) < 0.5, "\(fitted.stdout) vs \(truth.stdout)")
        let sampled = try Tool.run(["sample", model, "--count", "5", "-o", workspace["s.npy"]])
        #expect(sampled.status == 0)
        #expect(try Numpy.read(path: workspace["s.npy"]).shape == [5, 6])
        let info = try Tool.run(["info", model])
        #expect(info.stdout.contains("kind: dgmm") && info.stdout.contains("paths: 4") && info.stdout.contains("training.restarts: 2"))
    }

    @Test("predict labels by float64 on the host where float32 cannot tell the paths apart (signal-to-noise 10⁷, offsets 10³)")
    func predictOnWideRange() throws {
        let workspace = Workspace()
        let simulated = try Tool.run(["simulate", "dgmm", "-c", "3,3,2", "-l", "11,6,2", "-d", "17", "--count", "1000", "--seed", "5",
                                      "--signal-to-noise", "1e7", "--column-scale", "4", "--offset", "1000",
                                      "-o", workspace["x.npy"], "--labels", workspace["paths.npy"], "--model", workspace["true.safetensors"]])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        // The true model's own MAP paths: float32 labelled them at ARI 0.58 (0.98 in float64).
        let predicted = try Tool.run(["predict", workspace["true.safetensors"], workspace["x.npy"], "--backend", "cpu",
                                      "-o", workspace["p.npy"]])
        #expect(predicted.status == 0 && predicted.stderr.contains("responsibilities in float64 on the host"), "\(predicted.stderr)")
        let ari = try Tool.run(["ari", workspace["paths.npy"], workspace["p.npy"]])
        #expect(Double(ari.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0.95, "\(ari.stdout)")
    }

    @Test("DGMM errors exit non-zero with a one-line cause and write nothing", arguments: [
        ["dgmm", "train", "DATA", "-c", "2,2", "-l", "3,3", "-o", "OUT"], ["dgmm", "train", "DATA", "-c", "2,2", "-l", "3", "-o", "OUT"],
        ["dgmm", "train", "DATA", "-c", "2,x", "-l", "3,1", "-o", "OUT"], ["dgmm", "train", "DATA", "-c", "2", "-l", "6", "-o", "OUT"],
        ["dgmm", "train", "DATA", "-c", "2", "-l", "3", "-o", "OUT", "--temperature", "0.5"],
        ["dgmm", "train", "DATA", "-c", "2", "-l", "3", "-o", "OUT", "--restarts", "0"],
        ["predict", "MODEL", "DATA", "--layer", "3", "-o", "OUT"], ["ari", "PATHS", "SHORT"], ["ari", "LAYERS", "PATHS"],
        ["ari", "LAYERS", "PATHS", "--layer", "3"], ["dgmm", "train", "DATA", "-c", "2,2", "-l", "3,1", "-o", "OUT", "--from", "MODEL", "--restarts", "2"],
        ["dgmm", "train", "DATA", "-c", "2,2", "-l", "2,1", "-o", "OUT", "--from", "MODEL"], ["simulate", "dgmm", "-c", "2", "-l", "7", "-d", "6", "--count", "5", "-o", "OUT"],
        ["dgmm", "train", "DATA", "-c", "2,2", "-l", "3,1", "-o", "OUT", "--from", "MODEL", "--init", "kmeans++"],
        ["simulate", "dgmm", "-c", "2", "-l", "1", "-d", "6", "--count", "5", "-o", "OUT", "--offset", "5"],
    ])
    func errorsAreClear(arguments: [String]) throws {
        let workspace = Workspace()
        let simulated = try Tool.run(["simulate", "dgmm", "-c", "2,2", "-l", "3,1", "-d", "6", "--count", "50", "-o", workspace["x.npy"],
                                      "--labels", workspace["paths.npy"], "--layer-labels", workspace["layers.npy"],
                                      "--model", workspace["m.safetensors"]])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        try Numpy.write([0, 1, 1], shape: [3], dtype: "<i8", to: workspace["short.npy"])
        let substitutions = ["DATA": workspace["x.npy"], "MODEL": workspace["m.safetensors"], "PATHS": workspace["paths.npy"],
                             "LAYERS": workspace["layers.npy"], "SHORT": workspace["short.npy"], "OUT": workspace["out.safetensors"]]
        let outcome = try Tool.run(arguments.map { substitutions[$0] ?? $0 })
        #expect(outcome.status != 0)
        #expect(outcome.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "stderr: \(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace["out.safetensors"]))
    }

    @Test("dgmm train --init kmeans++ seeds layer 1 from k-means on standardised columns and recovers separated paths")
    func kmeansStart() throws {
        let workspace = Workspace()
        let simulated = try Tool.run(["simulate", "dgmm", "-c", "3,2", "-l", "3,1", "-d", "6", "--count", "1500", "--separation", "6",
                                      "-o", workspace["x.npy"], "--labels", workspace["paths.npy"]])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let trained = try Tool.run(["dgmm", "train", workspace["x.npy"], "-c", "3,2", "-l", "3,1", "--init", "kmeans++", "--epochs", "150",
                                    "--restarts", "2", "--backend", "cpu", "-o", workspace["m.safetensors"]])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(try Tool.run(["predict", workspace["m.safetensors"], workspace["x.npy"], "-o", workspace["p.npy"]]).status == 0)
        let ari = try Tool.run(["ari", workspace["p.npy"], workspace["paths.npy"]])
        #expect((Double(ari.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").last ?? "") ?? 0) > 0.8, "\(ari.stdout)")
    }

    @Test("--layer is refused for an MFA; train --from refuses a DGMM and dgmm train --from an MFA")
    func kindsAreChecked() throws {
        let workspace = Workspace()
        let simulated = try Tool.run(["simulate", "dgmm", "-c", "2", "-l", "1", "-d", "3", "--count", "40", "-o", workspace["x.npy"],
                                      "--model", workspace["dgmm.safetensors"]])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let mfa = try Tool.run(["train", workspace["x.npy"], "-c", "2", "-l", "1", "--epochs", "1", "-o", workspace["mfa.safetensors"]])
        #expect(mfa.status == 0, "\(mfa.stderr)")
        let layer = try Tool.run(["predict", workspace["mfa.safetensors"], workspace["x.npy"], "--layer", "1", "-o", workspace["p.npy"]])
        #expect(layer.status != 0 && layer.stderr.contains("DGMM"), "\(layer.stderr)")
        let from = try Tool.run(["train", workspace["x.npy"], "-c", "2", "-l", "1", "--from", workspace["dgmm.safetensors"],
                                 "-o", workspace["o.safetensors"]])
        #expect(from.status != 0 && from.stderr.contains("DGMM"), "\(from.stderr)")
        let dgmmFrom = try Tool.run(["dgmm", "train", workspace["x.npy"], "-c", "2", "-l", "1", "--from", workspace["mfa.safetensors"],
                                     "-o", workspace["o.safetensors"]])
        #expect(dgmmFrom.status != 0 && dgmmFrom.stderr.contains("MFA"), "\(dgmmFrom.stderr)")
        let warm = try Tool.run(["dgmm", "train", workspace["x.npy"], "-c", "2", "-l", "1", "--from", workspace["dgmm.safetensors"],
                                 "--epochs", "2", "-o", workspace["o.safetensors"]])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(try Tool.run(["info", workspace["o.safetensors"]]).stdout.contains("training.from"))
    }
}
