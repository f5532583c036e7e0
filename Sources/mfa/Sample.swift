import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Draw samples from a model.")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Option(help: "How many samples.")
    var count = 64

    @Option(name: [.short, .long], help: "Write the samples as a float32 .npy [count, d].")
    var out: String

    @Option(help: "Seed of the random draws.")
    var seed: UInt64 = 0

    @Option(help: "Also write a PNG grid of the samples as images (values clamped to [0, 1]).")
    var image: String?

    @Option(help: "Image shape HxW (default: the model's training data, or a square d).")
    var shape: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if let shape, ImageShape(shape) == nil { throw ValidationError("--shape must look like 28x28") }
    }

    func run() throws {
        try FilePlan(inputs: ["MODEL": model], outputs: ["--out": (out, .numpy), "--image": (image, .png)]).check()
        let contents = try ModelFile.read(model)
        let d = contents.model.shape.dimension
        // The draws as float32, their float64 copy and the file's bytes.
        try MemoryLimit.require([count, d], bytesEach: 16, for: "--count \(count) samples of d = \(d)")
        // Decide the image tile before writing anything, so that a bad --shape loses nothing.
        let tile = try image.map { _ in try imageTile(dimension: d, requested: shape, stored: contents.imageShape) }
        var random = RandomGenerator(seed: seed)
        let samples = contents.model.sample(count: count, random: &random).samples
        try Numpy.write(samples.values.map(Double.init), shape: [count, d], dtype: "<f4", to: out)
        say("wrote \(count) samples to \(out)")
        guard let image, let tile else { return }
        let columns = Int(Double(count).squareRoot().rounded(.up)), rows = (count + columns - 1) / columns
        try ImageGrid.write((0..<count).map { Array(samples.row($0)) }, tile: tile, columns: columns, to: image)
        say("wrote a \(rows)×\(columns) grid of \(tile) images to \(image)")
    }
}
