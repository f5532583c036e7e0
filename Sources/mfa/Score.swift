import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-sample log-likelihood log p(x) under a model, in nats.")

    @OptionGroup var input: ModelAndData

    @Option(name: [.short, .long], help: "Write the scores as a float64 .npy, one per input row, in input order.")
    var out: String?

    func run() throws {
        try FilePlan(inputs: ["MODEL": input.model, "DATA": input.data], outputs: ["--out": (out, .numpy)]).check()
        let (contents, samples) = try input.load()
        try MemoryLimit.require([samples.rows], bytesEach: 16, for: "the scores of \(samples.rows) samples")
        let scores = try score(contents.model, samples, on: try input.backendOptions.make())
        if let out { try Numpy.write(scores, shape: [scores.count], dtype: "<f8", to: out) }
        say(String(format: "mean log-likelihood %.4f nats per sample over %d samples", scores.reduce(0, +) / Double(scores.count), scores.count))
    }

    func score(_ model: MixtureModel, _ samples: some SampleSource, on backend: some Backend) throws -> [Double] {
        try checkedScores(model, samples, on: backend)
    }
}
