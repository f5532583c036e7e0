import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The most probable component (MAP) of each sample.")

    @OptionGroup var input: ModelAndData

    @Option(name: [.short, .long], help: "Write the component indices (0-based) as an int64 .npy, in input order.")
    var out: String

    @Option(help: "Also write the responsibilities p(k | x) as a float64 .npy [N, K].")
    var probabilities: String?

    func run() throws {
        let (model, samples) = try input.load()
        let k = model.shape.components
        let r = try responsibilities(model, samples, on: try input.backendOptions.make())
        let labels = (0..<samples.rows).map { n in
            Double((0..<k).max(by: { r[n * k + $0] < r[n * k + $1] })!)
        }
        try Numpy.write(labels, shape: [labels.count], dtype: "<i8", to: out)
        if let probabilities {
            try Numpy.write(r.map(Double.init), shape: [samples.rows, k], dtype: "<f8", to: probabilities)
        }
        say("wrote \(labels.count) labels to \(out)")
    }

    func responsibilities(_ model: MixtureModel, _ samples: some SampleSource, on backend: some Backend) throws -> [Float] {
        try model.engine(backend: backend).evaluate(samples, keepResponsibilities: true).responsibilities!
    }
}
