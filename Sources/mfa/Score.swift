import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-sample log-likelihood log p(x) under a model, in nats.")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Argument(help: "Data file (.npy, IDX or CSV) with the model's dimension.")
    var data: String

    @Option(name: [.short, .long], help: "Write the scores as a float64 .npy, one per input row, in input order.")
    var out: String?

    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let contents = try ModelFile.read(model)
        let dataset = try loadData(data, dimension: contents.model.shape.dimension)
        let engine = try contents.model.engine(backend: backendOptions.backend.make())
        let scores = try engine.evaluate(dataset.samples).logDensity
        if let out { try Numpy.write(scores, shape: [scores.count], dtype: "<f8", to: out) }
        say(String(format: "mean log-likelihood %.4f nats per sample over %d samples", scores.reduce(0, +) / Double(scores.count), scores.count))
    }
}
