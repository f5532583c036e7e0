import ArgumentParser
import Foundation
import MFA
import MFACPU
import MFAIO

/// The backends a command can run on.
enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case cpu

    /// The backend, said once on stderr so that scripts reading stdout are not disturbed.
    func make() -> CPUBackend {
        let backend = CPUBackend()
        printError("backend: \(backend.name)")
        return backend
    }
}

struct BackendOptions: ParsableArguments {
    @Option(help: "Where to compute: cpu (OpenBLAS).")
    var backend: BackendChoice = .cpu
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A model file and a data file of its dimension: what `score` and `predict` take.
struct ModelAndData: ParsableArguments {
    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Argument(help: "Data file (.npy, IDX or CSV) with the model's dimension.")
    var data: String

    @OptionGroup var backendOptions: BackendOptions

    /// The model, the data (checked against d), and an engine holding the model.
    func load() throws -> (model: MixtureModel, samples: Matrix, engine: MixtureEngine<CPUBackend>) {
        let contents = try ModelFile.read(model)
        let dataset = try loadData(data, dimension: contents.model.shape.dimension)
        return (contents.model, dataset.samples, try contents.model.engine(backend: backendOptions.backend.make()))
    }
}

/// Loads a data file and checks it against the model's dimension.
func loadData(_ path: String, dimension: Int? = nil) throws -> Dataset {
    let dataset = try DataFile.load(path)
    if let dimension, dataset.samples.columns != dimension {
        throw MFAError.shapeMismatch("\(path) has d = \(dataset.samples.columns), the model has d = \(dimension)")
    }
    return dataset
}

/// "1:02:03" or "2:03".
func clockText(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
    return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
}

/// A line on stdout, written at once (progress must show when stdout is a pipe too).
func say(_ message: String) {
    FileHandle.standardOutput.write(Data((message + "\n").utf8))
}
