import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "In-painting: fill masked coordinates with their conditional expectation given the observed ones.",
        discussion: "Each masked coordinate becomes E[x_U | x_O] under the component most probable given the observed coordinates (or, with --mixture, averaged over components by those probabilities), by Woodbury on the observed coordinates: no d×d matrix is formed.")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Argument(help: "Data file (.npy, IDX or CSV) with the model's dimension.")
    var data: String

    @Option(help: "A .npy mask, nonzero where a value is missing: [N, d] (or N×H×W), or one row [d] (or H×W) for all samples.")
    var mask: String

    @Option(name: [.short, .long], help: "Write the reconstructed data as a float32 .npy [N, d].")
    var out: String

    @Flag(help: "Average the reconstruction over the components instead of using the most probable one.")
    var mixture = false

    @Option(help: "Also write a PNG grid: originals, masked (missing values grey), reconstructed; one row each.")
    var image: String?

    @Option(help: "Samples in the PNG grid.")
    var count = 16

    @Option(help: "Image shape HxW (default: the model's training data, or a square d).")
    var shape: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if let shape, ImageShape(shape) == nil { throw ValidationError("--shape must look like 28x28") }
    }

    func run() throws {
        try FilePlan(inputs: ["MODEL": model, "DATA": data, "--mask": mask], outputs: ["--out": out, "--image": image]).check()
        let contents = try ModelFile.read(model)
        let d = contents.model.shape.dimension
        let samples = try loadData(data, dimension: d).samples
        let maskArray = try Numpy.read(path: mask)
        guard maskArray.values.count == samples.rows * d || maskArray.values.count == d else {
            throw MFAError.shapeMismatch("\(mask) has shape \(maskArray.shape); expected [\(samples.rows), \(d)] or [\(d)]")
        }
        let tile = try image.map { _ in try imageTile(dimension: d, requested: shape, stored: contents.imageShape) }
        let missing = maskArray.values.map { $0 != 0 }
        let filled = try contents.model.reconstruct(samples, missing: missing, mixture: mixture)
        try Numpy.write(filled.values.map(Double.init), shape: [filled.rows, d], dtype: "<f4", to: out)
        say("wrote \(filled.rows) reconstructions (\(missing.filter { $0 }.count * (missing.count == d ? samples.rows : 1)) values filled in) to \(out)")
        guard let image, let tile else { return }
        let shown = min(count, samples.rows)
        let isMissing = { (n: Int, j: Int) in missing.count == d ? missing[j] : missing[n * d + j] }
        let originals = (0..<shown).map { Array(samples.row($0)) }
        let masked = (0..<shown).map { n in (0..<d).map { isMissing(n, $0) ? Float(0.5) : samples[n, $0] } }
        let reconstructed = (0..<shown).map { Array(filled.row($0)) }
        try ImageGrid.write(originals + masked + reconstructed, tile: tile, columns: shown, to: image)
        say("wrote originals, masked and reconstructed images to \(image)")
    }
}
