import ArgumentParser
import Foundation
import MFA
import MFACPU
import MFAIO
import MFAOpenCL

/// The backends a command can run on.
enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, cpu, opencl
}

extension DistributedMode: ExpressibleByArgument {}

/// `--precision`: the arithmetic of the backend's passes.
enum Precision: String, ExpressibleByArgument, CaseIterable {
    case float32, float64
}

struct BackendOptions: ParsableArguments {
    @Option(help: "Where to compute: auto (an OpenCL GPU if there is one, else the CPU), cpu (OpenBLAS) or opencl.")
    var backend: BackendChoice = .auto

    @Option(help: "The OpenCL device to use (an index from `mfa devices`; default: the first GPU, else the first device; under MPI, the node's devices in turn by rank).")
    var device: Int?

    @Flag(help: "OpenCL: time every kernel and GEMM on the device (OpenCL events) and print the totals per kernel at the end.")
    var profile = false

    @Flag(name: .customLong("opencl-fp32"), help: "OpenCL: no float64 in any kernel (per-component sums in float32 with Kahan's compensation), for GPUs whose float64 is slow; a device without cl_khr_fp64 always runs so.")
    var openclFloat32 = false

    @Option(help: "CPU threads (default: the cores this process may run on; under MPI, shared among the ranks on a node).")
    var threads: Int?

    @Option(help: "float32 (every backend) or float64 (the CPU backend only, half its speed): the arithmetic of every pass. float64 keeps the digits that far, tight components and signal-to-noise ratios beyond 10⁵ cost float32 (README: data with a wide numerical range).")
    var precision: Precision = .float32

    @Option(help: "auto (train data-parallel across the ranks when an MPI launcher such as mpirun or srun started the process), mpi (always use MPI; alone, one rank) or off.")
    var distributed: DistributedMode = .auto

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
        if precision == .float64, backend == .opencl { throw ValidationError("--precision float64 runs on the CPU backend only: give --backend cpu") }
        if profile, backend == .cpu || precision == .float64 { throw ValidationError("--profile times OpenCL kernels: give --backend opencl (or auto on a GPU)") }
        if openclFloat32, backend == .cpu || precision == .float64 { throw ValidationError("--opencl-fp32 changes the OpenCL kernels: give --backend opencl (or auto on a GPU)") }
    }

    /// The backend, said once on stderr so that scripts reading stdout are not disturbed. Under
    /// `auto`, an OpenCL GPU that cannot be opened falls back to the CPU with a warning.
    func make() throws -> any Backend {
        CPUThreads.count = threads ?? Launch.defaultThreads()
        let devices = (try? OpenCLDevices.all.get()) ?? []
        let device = self.device ?? Launch.defaultDevice(count: devices.count)
        let made: any Backend
        switch precision == .float64 ? .cpu : backend {
        case .cpu:
            made = CPUBackend(precision: precision == .float64 ? .double : .single)
        case .opencl:
            made = try OpenCLBackend(device: device, profile: profile, float32: openclFloat32)
        case .auto:
            let gpu = devices.first(where: { $0.isGPU && (device == nil || $0.index == device) })
            if let gpu {
                do {
                    made = try OpenCLBackend(device: gpu.index, profile: profile, float32: openclFloat32)
                } catch {
                    printError("warning: OpenCL device \(gpu.name) failed (\(error)); using the CPU")
                    made = CPUBackend()
                }
            } else {
                made = CPUBackend()
            }
            if openclFloat32, made is CPUBackend { printError("note: --opencl-fp32 has no effect: auto chose the CPU backend") }
        }
        printError("backend: \(made.name)\(backend == .auto ? " (auto)" : "")\(Launch.description)")
        return made
    }
}

/// A model file and a data file of its dimension: what `score` and `predict` take.
struct ModelAndData: ParsableArguments {
    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Argument(help: "Data file (.npy, IDX or CSV) with the model's dimension.")
    var data: String

    @OptionGroup var backendOptions: BackendOptions

    @OptionGroup var csv: CSVArguments

    /// The model file and the data (streamed from .npy and IDX files), checked against its d.
    func load() throws -> (contents: ModelFile.Contents, samples: any SampleSource) {
        let contents = try ModelFile.read(model)
        return (contents, try openData(data, dimension: contents.model.shape.dimension, csv: csv))
    }
}

/// A line on stderr; under MPI from rank 0 only.
func printError(_ message: String) {
    guard Launch.leads else { return }
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Opens a data file for streaming (see `DataFile.open`) and checks it against the model's dimension.
func openData(_ path: String, dimension: Int, csv: CSVArguments) throws -> any SampleSource {
    let samples = try DataFile.open(path, csv: csv.options()).samples
    guard samples.columns == dimension else {
        throw MFAError.shapeMismatch("\(path) has d = \(samples.columns), the model has d = \(dimension)")
    }
    return samples
}

/// Loads a data file and checks it against the model's dimension.
func loadData(_ path: String, dimension: Int? = nil, csv: CSV.Options) throws -> Dataset {
    let dataset = try DataFile.load(path, csv: csv)
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
/// A line on stdout; under MPI from rank 0 only.
func say(_ message: String) {
    guard Launch.leads else { return }
    FileHandle.standardOutput.write(Data((message + "\n").utf8))
}

/// A line from whichever rank says it (its failure, its device), with the rank under MPI.
func sayFromThisRank(_ message: String, error: Bool = false) {
    let line = (Launch.group.map { "rank \($0.rank) of \($0.processes): " } ?? "") + message + "\n"
    (error ? FileHandle.standardError : FileHandle.standardOutput).write(Data(line.utf8))
}

/// The H×W of one sample for image grids: --shape, else the model's training data, else a square d.
func imageTile(dimension d: Int, requested: String?, stored: ImageShape?) throws -> ImageShape {
    let side = Int(Double(d).squareRoot().rounded())
    guard let tile = requested.flatMap(ImageShape.init) ?? stored ?? (side * side == d ? ImageShape(height: side, width: side) : nil),
          tile.height * tile.width == d else {
        throw ValidationError("cannot draw samples of d = \(d) as images: give --shape HxW with H·W = d")
    }
    return tile
}

/// Per-row log p(x) from the backend (float32), unless the float64 check on a sample of rows
/// fails: then every row is scored in float64 on the host (slower; exact), and stderr says so.
func checkedScores(_ model: MixtureModel, _ samples: some SampleSource, on backend: some Backend) throws -> [Double] {
    guard let check = precisionCheck(model, samples, on: backend), !check.passes else {
        return try model.engine(backend: backend).evaluate(samples).logDensity
    }
    do {
        printError(precisionWarning(check, float64: backend.keepsDoubles, instead: "scoring every row in float64 on the host instead"))
        return try PreciseLogDensity(model).logDensities(samples, rows: Array(0..<samples.rows))
    }
}

/// The float64 check, or nil (said on stderr) when it cannot run: it never fails a command.
func precisionCheck(_ model: MixtureModel, _ samples: some SampleSource, on backend: some Backend) -> PrecisionCheck? {
    do {
        return try PrecisionCheck(model, data: samples, backend: backend)
    } catch {
        printError("note: the float64 check of the log-likelihoods could not run (\(error))")
        return nil
    }
}

/// Says on stderr when the backend's float32 log-likelihoods of `model` on `samples` fail the
/// float64 check (`PrecisionCheck`); returns whether they passed.
@discardableResult
func warnIfImprecise(_ model: MixtureModel, _ samples: some SampleSource, on backend: some Backend,
                     scoredExactly: Bool = false) -> Bool {
    guard let check = precisionCheck(model, samples, on: backend) else { return false }
    if !check.passes { printError(precisionWarning(check, float64: backend.keepsDoubles, scoredExactly: scoredExactly)) }
    return check.passes
}

/// What a failed check says (`PrecisionCheck`), for a float32 backend or a float64 one (whose
/// precision form can still cancel at extreme ranges: the host's covariance form does not).
/// `instead`: what a command that does not train does about it (then a note, not a warning
/// about training).
/// `scoredExactly`: the trainer chose among restarts by float64 scores (`DGMMStrategy`).
func precisionWarning(_ check: PrecisionCheck, float64: Bool, instead: String? = nil, scoredExactly: Bool = false) -> String {
    let measured = String(format: "on %d sampled rows its log-likelihoods differ from the exact ones (float64, covariance form, on the host) by up to %.3g nats (mean %.3g)",
                          check.rows, check.maximum, check.mean)
    if let instead {
        return "note: \(float64 ? "even in float64 the backend's precision form loses digits" : "float32 is not precise enough") for this model on this data: \(measured); \(instead)"
    }
    let consequence = scoredExactly
        ? "the log-likelihoods printed during training rest on them (the final one, the choice among restarts and BIC were computed in float64)"
        : "the log-likelihoods printed during training, the choice among restarts and BIC rest on them"
    return float64
        ? "warning: even in float64 the backend's precision form loses digits for this model on this data: \(measured); \(consequence). Scores from `mfa score` and `mfa outliers` are exact (README: data with a wide numerical range)"
        : "warning: float32 is not precise enough for this model on this data: \(measured); \(consequence). Components far from the data's centre relative to their spread, or signal-to-noise ratios beyond 10⁵, do this: train with --precision float64 (README: data with a wide numerical range)"
}

/// `--profile`: the OpenCL backend's per-kernel device times, on stderr.
func reportProfile(_ backend: any Backend) {
    guard let profile = (backend as? OpenCLBackend)?.profile else { return }
    printError("device time per kernel (--profile):")
    for line in profile.report() { printError("  " + line) }
}
