import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The most probable component (MAP) of each sample.",
        discussion: """
            For a DGMM the components are its paths, numbered as the mixed-radix number of the layer \
            choices, layer 1 most significant: with G_1, …, G_L components per layer, path \
            ((g_1·G_2 + g_2)·G_3 + g_3)… (all 0-based). --layer i writes g_i of the MAP path instead.
            """)

    @OptionGroup var input: ModelAndData

    @Option(name: [.short, .long], help: "Write the component indices (0-based) as an int64 .npy, in input order.")
    var out: String

    @Option(help: "Also write the responsibilities p(k | x) as a float64 .npy [N, K] (for a DGMM, K = paths).")
    var probabilities: String?

    @Option(help: "DGMM only: write the component of layer i (1-based) on the MAP path, instead of the path.")
    var layer: Int?

    func run() throws {
        try FilePlan(inputs: ["MODEL": input.model, "DATA": input.data], outputs: ["--out": (out, .numpy), "--probabilities": (probabilities, .numpy)]).check()
        let (contents, samples) = try input.load()
        let model = contents.model
        var component = { (path: Int) in path }
        if let layer {
            guard let shape = contents.dgmm?.shape else { throw ValidationError("--layer is for DGMM models; \(input.model) holds an MFA") }
            guard (1...shape.layers).contains(layer) else {
                throw ValidationError("--layer \(layer) is outside 1…\(shape.layers), the layers of \(input.model)")
            }
            component = { shape.choices(path: $0)[layer - 1] }
        }
        let k = model.shape.components
        // Every sample's responsibilities stay in memory: float32 from the backend, then float64.
        try MemoryLimit.require([samples.rows, k], bytesEach: 12,
                                for: "the responsibilities of \(samples.rows) samples under \(k) components")
        let r = try responsibilities(model, samples, on: try input.backendOptions.make())
        let labels = (0..<samples.rows).map { n in
            Double(component((0..<k).max(by: { r[n * k + $0] < r[n * k + $1] })!))
        }
        try Numpy.write(labels, shape: [labels.count], dtype: "<i8", to: out)
        if let probabilities {
            try Numpy.write(r, shape: [samples.rows, k], dtype: "<f8", to: probabilities)
        }
        say("wrote \(labels.count) labels to \(out)")
    }

    /// From the backend (float32), unless the float64 check fails: then from the host in float64,
    /// as `score` does, since labels from digits the backend lost are wrong, not merely rough.
    func responsibilities(_ model: MixtureModel, _ samples: some SampleSource, on backend: some Backend) throws -> [Double] {
        guard let check = precisionCheck(model, samples, on: backend), !check.passes else {
            return try model.engine(backend: backend).evaluate(samples, keepResponsibilities: true).responsibilities!.map(Double.init)
        }
        printError(precisionWarning(check, float64: backend.keepsDoubles, instead: "computing every row's responsibilities in float64 on the host instead"))
        return try PreciseLogDensity(model).responsibilities(samples, rows: Array(0..<samples.rows))
    }
}
