import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The most probable component (MAP) of each sample.")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Argument(help: "Data file (.npy, IDX or CSV) with the model's dimension.")
    var data: String

    @Option(name: [.short, .long], help: "Write the component indices (0-based) as an int64 .npy, in input order.")
    var out: String

    @Option(help: "Also write the responsibilities p(k | x) as a float64 .npy [N, K].")
    var probabilities: String?

    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let contents = try ModelFile.read(model)
        let k = contents.model.shape.components
        let dataset = try loadData(data, dimension: contents.model.shape.dimension)
        let engine = try contents.model.engine(backend: backendOptions.backend.make())
        let r = try engine.evaluate(dataset.samples, keepResponsibilities: true).responsibilities!
        let labels = (0..<dataset.samples.rows).map { n in
            Double((0..<k).max(by: { r[n * k + $0] < r[n * k + $1] })!)
        }
        try Numpy.write(labels, shape: [labels.count], dtype: "<i8", to: out)
        if let probabilities {
            try Numpy.write(r.map(Double.init), shape: [dataset.samples.rows, k], dtype: "<f8", to: probabilities)
        }
        say("wrote \(labels.count) labels to \(out)")
    }
}
