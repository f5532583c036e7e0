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
        let contents = try ModelFile.read(model)
        let d = contents.model.shape.dimension
        // Decide the image tile before writing anything, so that a bad --shape loses nothing.
        let tile = try image.map { _ in try imageTile(dimension: d, stored: contents.imageShape) }
        var random = RandomGenerator(seed: seed)
        let samples = contents.model.sample(count: count, random: &random).samples
        try Numpy.write(samples.values.map(Double.init), shape: [count, d], dtype: "<f4", to: out)
        say("wrote \(count) samples to \(out)")
        guard let image, let tile else { return }
        let columns = Int(Double(count).squareRoot().rounded(.up)), rows = (count + columns - 1) / columns
        let (width, height) = (columns * (tile.width + 1) + 1, rows * (tile.height + 1) + 1)
        var pixels = [Float](repeating: 1, count: width * height)
        for n in 0..<count {
            let (top, left) = ((n / columns) * (tile.height + 1) + 1, (n % columns) * (tile.width + 1) + 1)
            for y in 0..<tile.height {
                for x in 0..<tile.width { pixels[(top + y) * width + left + x] = samples[n, y * tile.width + x] }
            }
        }
        try PNG.writeGreyscale(pixels, width: width, height: height, to: image)
        say("wrote a \(rows)×\(columns) grid of \(tile) images to \(image)")
    }

    /// The H×W of one sample: --shape, else the model's training data, else a square d.
    func imageTile(dimension d: Int, stored: ImageShape?) throws -> ImageShape {
        let side = Int(Double(d).squareRoot().rounded())
        guard let tile = shape.flatMap(ImageShape.init) ?? stored ?? (side * side == d ? ImageShape(height: side, width: side) : nil),
              tile.height * tile.width == d else {
            throw ValidationError("cannot draw samples of d = \(d) as images: give --shape HxW with H·W = d")
        }
        return tile
    }
}
