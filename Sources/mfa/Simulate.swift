import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw data with known structure from a random model.",
        subcommands: [SimulateMFA.self, SimulateDGMM.self])
}

struct SimulateMFA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mfa",
        abstract: "Draw data from a random MFA, with the true components and the true model.",
        discussion: """
            In unit coordinates: equal weights, means ~ N(0, s²) (s = --separation), loadings ~ N(0, 1), \
            and per component one noise variance, the largest eigenvalue of ΛΛᵀ divided by \
            --signal-to-noise. Then each column j is put in units of its own, o_j + c_j·x_j, with c_j \
            log-uniform in [1, --column-scale] and o_j uniform in [−offset, offset]: hard cases \
            (ranges of 10⁴ and more, data far from zero, elongated components) with ground truth.
            """)

    @Option(name: [.short, .long], help: "K, the number of components.")
    var components: Int

    @Option(name: [.short, .long], help: "l, the latent dimension (0 ≤ l < d).")
    var latent: Int

    @Option(name: [.short, .long], help: "d, the data dimension.")
    var dimension: Int

    @Option(help: "How many samples.")
    var count: Int

    @Option(help: "Seed of the model and of the draws.")
    var seed: UInt64 = 0

    @Option(help: "Standard deviation of the component means, in units of the columns' scales.")
    var separation = 3.0

    @Option(help: "The ratio of each component's largest covariance eigenvalue to its noise variance (in unit coordinates).")
    var signalToNoise = 10.0

    @Option(help: "The columns' scales are log-uniform in [1, this].")
    var columnScale = 1.0

    @Option(help: "The columns' offsets are uniform in [−this, this].")
    var offset = 0.0

    @Option(name: [.short, .long], help: "Where to write the samples (float32 .npy [count, d]).")
    var out: String

    @Option(help: "Where to write each sample's true component (int64 .npy [count]).")
    var labels: String?

    @Option(help: "Where to write the true MFA (.safetensors).")
    var model: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if components < 1 { throw ValidationError("--components must be at least 1") }
        if dimension < 1 || latent < 0 || latent >= dimension { throw ValidationError("need 0 ≤ --latent < --dimension") }
        if !(separation > 0) { throw ValidationError("--separation must be positive") }
        try SimulationRange.validate(signalToNoise: signalToNoise, columnScale: columnScale, offset: offset)
    }

    func run() throws {
        try FilePlan(inputs: [:], outputs: ["--out": (out, .numpy), "--labels": (labels, .numpy), "--model": (model, .model)]).check()
        try MemoryLimit.require([count, dimension], bytesEach: 16, for: "--count \(count) samples of d = \(dimension)")
        try MemoryLimit.require([components, dimension, latent + 2], bytesEach: 16, for: "an MFA of K = \(components) in d = \(dimension)")
        let shape = try MixtureShape(components: components, dimension: dimension, latent: latent)
        var random = RandomGenerator(seed: seed)
        let settings = MFASimulation.Settings(separation: separation, signalToNoise: signalToNoise, columnScale: columnScale, offset: offset)
        let truth = try MFASimulation.model(shape, settings: settings, random: &random)
        let (samples, components) = truth.sample(count: count, random: &random)
        try Numpy.write(samples.values.map(Double.init), shape: [count, dimension], dtype: "<f4", to: out)
        if let note = Standardisation.storageNote(try samples.columnMoments()) { printError("note: the samples are float32: " + note) }
        if let labels { try Numpy.write(components.map(Double.init), shape: [count], dtype: "<i8", to: labels) }
        if let model {
            try ModelFile.write(truth, metadata: ["simulation.seed": String(seed), "simulation.separation": String(separation),
                                                  "simulation.signal_to_noise": String(signalToNoise),
                                                  "simulation.column_scale": String(columnScale), "simulation.offset": String(offset),
                                                  "simulation.count": String(count)], to: model)
        }
        say("wrote \(count) samples of d=\(dimension) from an MFA (\(shape)) to \(out)")
    }
}

struct SimulateDGMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dgmm",
        abstract: "Draw data from a random DGMM of the given shape, with the true paths.",
        discussion: """
            The recipe follows the DGMM paper's §3.1: equal weights; means η ~ N(0, s²) (s = \
            --separation) in every layer; loadings N(0, 1/R_i), a quarter of the entries zero; noise \
            variances U(0.2, 0.6); then each column j is put in units like the paper's data, \
            o_j + c_j·x_j with o_j ~ U(100, 400) and c_j ~ U(20, 60). Paths are numbered as in \
            `mfa predict`: the mixed-radix number of the layer choices, layer 1 most significant.
            """)

    @Option(name: [.short, .long], help: "Components per layer, layer 1 first, e.g. 3,3,2.")
    var components: LayerSizes

    @Option(name: [.short, .long], help: "Latent dimension per layer, strictly decreasing and below d, e.g. 11,6,2.")
    var latent: LayerSizes

    @Option(name: [.short, .long], help: "d, the data dimension (the paper's experiment has 17).")
    var dimension = 17

    @Option(help: "How many samples.")
    var count: Int

    @Option(help: "Seed of the model and of the draws.")
    var seed: UInt64 = 0

    @Option(help: "Standard deviation of the component means in every layer: larger separates the paths more.")
    var separation = 3.0

    @Option(help: "A harder case: layer 1's noise scaled so that the largest covariance eigenvalue of the paths through each of its components is this many times its mean noise variance (the DGMM authors' data: ~10⁷). Also switches the columns' units to --column-scale and --offset.")
    var signalToNoise: Double?

    @Option(help: "With --signal-to-noise: the columns' scales are log-uniform in [1, this].")
    var columnScale = 1.0

    @Option(help: "With --signal-to-noise: the columns' offsets are uniform in [−this, this].")
    var offset = 0.0

    @Option(name: [.short, .long], help: "Where to write the samples (float32 .npy [count, d]).")
    var out: String

    @Option(help: "Where to write each sample's true path (int64 .npy [count]).")
    var labels: String?

    @Option(help: "Where to write each sample's true component in every layer (int64 .npy [count, L]).")
    var layerLabels: String?

    @Option(help: "Where to write the true DGMM (.safetensors).")
    var model: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if !(separation > 0) { throw ValidationError("--separation must be positive") }
        if signalToNoise == nil, columnScale != 1 || offset != 0 {
            throw ValidationError("--column-scale and --offset come with --signal-to-noise (without it the columns get the paper-like units)")
        }
        try SimulationRange.validate(signalToNoise: signalToNoise ?? 1, columnScale: columnScale, offset: offset)
    }

    func run() throws {
        try FilePlan(inputs: [:], outputs: ["--out": (out, .numpy), "--labels": (labels, .numpy), "--layer-labels": (layerLabels, .numpy),
                                                      "--model": (model, .model)]).check()
        let shape = try DGMMShape(dimension: dimension, components: components.values, latent: latent.values)
        // The samples (float32, a float64 copy, the file's bytes) and the path mixture drawn from (d×(R_1 + 2) per path, float32, with workspace).
        try MemoryLimit.require([count, dimension], bytesEach: 16, for: "--count \(count) samples of d = \(dimension)")
        try MemoryLimit.require([shape.pathCount, dimension, latent.values[0] + 2], bytesEach: 16,
                                for: "a DGMM of \(shape.pathCount) paths in d = \(dimension)")
        var random = RandomGenerator(seed: seed)
        let range = signalToNoise.map { DGMMSimulation.Range(signalToNoise: $0, columnScale: columnScale, offset: offset) }
        let truth = try DGMMSimulation.model(shape, separation: separation, range: range, random: &random)
        let (samples, paths) = try truth.sample(count: count, random: &random)
        try Numpy.write(samples.values.map(Double.init), shape: [count, dimension], dtype: "<f4", to: out)
        if let note = Standardisation.storageNote(try samples.columnMoments()) { printError("note: the samples are float32: " + note) }
        if let labels { try Numpy.write(paths.map(Double.init), shape: [count], dtype: "<i8", to: labels) }
        if let layerLabels {
            try Numpy.write(paths.flatMap { shape.choices(path: $0).map(Double.init) }, shape: [count, shape.layers],
                            dtype: "<i8", to: layerLabels)
        }
        if let model {
            var metadata = ["simulation.seed": String(seed), "simulation.separation": String(separation), "simulation.count": String(count)]
            if let range {
                metadata["simulation.signal_to_noise"] = String(range.signalToNoise)
                metadata["simulation.column_scale"] = String(range.columnScale)
                metadata["simulation.offset"] = String(range.offset)
            }
            try ModelFile.write(truth, metadata: metadata, to: model)
        }
        say("wrote \(count) samples of d=\(dimension) from a DGMM with \(shape.pathCount) paths to \(out)")
    }
}

struct ARI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ari",
        abstract: "Adjusted Rand index of two labelings (1: the same partition; about 0: unrelated).")

    @Argument(help: "Labels (.npy or IDX of integers): one per sample, or [N, L] per-layer labels with --layer.")
    var first: String

    @Argument(help: "Labels to compare, the same samples in the same order.")
    var second: String

    @Option(help: "For [N, L] label files (`mfa simulate dgmm --layer-labels`): the layer (1-based) whose column to compare.")
    var layer: Int?

    func run() throws {
        try FilePlan(inputs: ["FIRST": first, "SECOND": second], outputs: [:]).check()
        let index = try adjustedRandIndex(try labels(first), try labels(second))
        say(String(format: "%.4f", index))
    }

    func labels(_ path: String) throws -> [Int] {
        let (values, columns) = try DataFile.loadLabelTable(path)
        guard columns > 1 else { return values }
        guard let layer else {
            throw ValidationError("\(path) has \(columns) label columns; choose one with --layer")
        }
        guard (1...columns).contains(layer) else {
            throw ValidationError("--layer \(layer) is outside 1…\(columns), the columns of \(path)")
        }
        return stride(from: layer - 1, to: values.count, by: columns).map { values[$0] }
    }
}

/// The range options of `simulate mfa` and `simulate dgmm`: finite, and where float32 (the
/// samples' type) can hold them.
enum SimulationRange {
    static func validate(signalToNoise: Double, columnScale: Double, offset: Double) throws {
        if !(signalToNoise >= 1 && signalToNoise <= 1e12) { throw ValidationError("--signal-to-noise must be a number in [1, 1e12] (got \(signalToNoise))") }
        if !(columnScale >= 1 && columnScale <= 1e12) { throw ValidationError("--column-scale must be a number in [1, 1e12] (got \(columnScale))") }
        if !(offset >= 0 && offset <= 1e12) {
            throw ValidationError("--offset must be a number in [0, 1e12] (got \(offset)); offsets are drawn in [−offset, offset]")
        }
    }
}
