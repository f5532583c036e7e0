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

    @Option(help: "A .npy mask, nonzero or true where a value is missing: [N, d] (or N×H×W), or one row [d] (or H×W) for all samples; np.isnan(X) saved by numpy will do. Optional when the data mark their missing values themselves (NaN, or NA or empty fields in CSV); both together fill in either.")
    var mask: String?

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

    @OptionGroup var csv: CSVArguments

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if let shape, ImageShape(shape) == nil { throw ValidationError("--shape must look like 28x28") }
    }

    func run() throws {
        try FilePlan(inputs: ["MODEL": model, "DATA": data, "--mask": mask], outputs: ["--out": (out, .numpy), "--image": (image, .png)]).check()
        let contents = try ModelFile.read(model)
        let d = contents.model.shape.dimension
        // Here NaN, NA and empty fields are the missing values, not errors.
        let given = try loadData(data, dimension: d, csv: csv.options(missingAllowed: true)).samples
        let tile = try image.map { _ in try imageTile(dimension: d, requested: shape, stored: contents.imageShape) }
        let missing = try missingValues(given, dimension: d)
        let samples = try Matrix(rows: given.rows, columns: d, values: given.values.map { $0.isNaN ? 0 : $0 })
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

    /// Which values to fill in: the --mask's (one row for all samples, or one per sample), the
    /// data's own NaN, or both; [d] when only a one-row mask marks them, else [N·d].
    func missingValues(_ samples: Matrix, dimension d: Int) throws -> [Bool] {
        let marked = samples.values.map(\.isNaN)
        let dataMarkSome = marked.contains(true)
        guard let mask else {
            guard dataMarkSome else {
                throw ValidationError("\(data) marks no value as missing (NaN, NA or an empty field): give --mask")
            }
            return marked
        }
        let maskArray = try Numpy.read(path: mask)
        guard maskArray.values.count == samples.rows * d || maskArray.values.count == d else {
            throw MFAError.shapeMismatch("\(mask) has shape \(maskArray.shape); expected [\(samples.rows), \(d)] or [\(d)]")
        }
        let flags = maskArray.values.map { $0 != 0 }
        guard dataMarkSome else { return flags }
        return marked.indices.map { marked[$0] || flags[flags.count == d ? $0 % d : $0] }
    }
}
