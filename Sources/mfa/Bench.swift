import ArgumentParser
import Foundation
import MFA
import MFABench
import MFACPU
import MFAIO
import MFAOpenCL

/// "50,500,2000" and the like: comma lists for the options bench sweeps (every item a positive
/// integer; an empty item is an error, not skipped).
struct IntegerList: ExpressibleByArgument {
    var values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        values = parts.map { $0! }
    }
    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
    static var defaultCompletionKind: CompletionKind { .default }
}

struct NameList<Value: RawRepresentable & CaseIterable>: ExpressibleByArgument where Value.RawValue == String {
    var values: [Value]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Value(rawValue: String($0)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        values = parts.map { $0! }
    }
    var defaultValueDescription: String { values.map(\.rawValue).joined(separator: ",") }
}

struct Bench: ParsableCommand {
    enum Kind: String, CaseIterable { case cpu, opencl }

    static let configuration = CommandConfiguration(
        abstract: "Training-step speed of each backend against its own GEMM rate on the same shapes, measured in one run.",
        discussion: """
            Random data, d × K × l as asked, a step on one batch repeated for a few seconds. A step of \
            either algorithm does four GEMMs, 4·B·d·K·(l+2) flops: the forward [X∘X | X]·[E | −2E∘U]ᵀ and \
            X·Γᵀ, and the batch sums weightedᵀ·X and wᵀ·(X∘X); sgd adds the gradient's assembly, Adam and \
            the M_k projection, online-em the host M-step. "training GFLOP/s" divides those flops by the \
            whole step's time; "GEMM GFLOP/s" is the backend's own GEMMs on the same four shapes (the \
            CPU: cblas_sgemm with OpenBLAS's threads; OpenCL: CLBlast inside the step), and "ratio" is the \
            second over the first time. Then where a step's time goes, each operation waited for.
            """)

    @Option(help: "Backends, comma-separated: cpu, opencl.")
    var backend = NameList<Kind>(argument: "cpu")!

    @Option(help: "The OpenCL device (an index from `mfa devices`; default: the first GPU, else the first device).")
    var device: Int?

    @Flag(name: .customLong("opencl-fp32"), help: "OpenCL: no float64 in any kernel (as `train --opencl-fp32`).")
    var openclFloat32 = false

    @Option(name: [.short, .long], help: "Values of K, comma-separated positive integers.")
    var components = IntegerList(argument: "50,500,2000")!

    @Option(name: [.short, .long], help: "l.")
    var latent = 10

    @Option(name: [.short, .long], help: "d.")
    var dimension = 784

    @Option(help: "Samples per step (default: as `train`, 512 for sgd and 5000 for online-em, whose M-step runs once per batch).")
    var batchSize: Int?

    @Option(help: "Algorithms, comma-separated: sgd, online-em.")
    var algorithm = NameList<StepBenchmark.Algorithm>(argument: "sgd")!

    @Option(help: "Also write the table here (CSV: backend,device,algorithm,K,l,d,batch,samples_per_s,ms_per_step,train_gflops,gemm_gflops,ratio).")
    var csv: String?

    func validate() throws {
        if latent < 0 || latent >= dimension { throw ValidationError("need 0 ≤ --latent < --dimension") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        let opencl = backend.values.contains(.opencl)
        if openclFloat32, !opencl { throw ValidationError("--opencl-fp32 changes the OpenCL kernels: add opencl to --backend") }
        // Checked before any backend runs, so that no row measured is lost to a later refusal.
        if opencl, latent > OpenCLBackend.maxLatent {
            throw ValidationError("the OpenCL backend supports l ≤ \(OpenCLBackend.maxLatent) (got \(latent))")
        }
    }

    func run() throws {
        try FilePlan(inputs: [:], outputs: ["--csv": (csv, .text)]).check()
        var rows = [StepBenchmark.Row]()
        for kind in backend.values {
            for algorithm in algorithm.values {
                for k in components.values {
                    let batch = batchSize ?? (algorithm == .onlineEM ? TrainingOptions.onlineEMBatchSize : TrainingOptions.sgdBatchSize)
                    let shape = StepBenchmark.Shape(components: k, latent: latent, dimension: dimension, batch: batch)
                    try MemoryLimit.require([k, dimension, latent + 2, 8], bytesEach: 4, for: "K=\(k) l=\(latent) in d=\(dimension)")
                    rows.append(try measure(kind, algorithm: algorithm, shape: shape))
                    say(tableLine(rows.last!))
                }
            }
        }
        say("\nwhere a step's time goes (ms per step, each operation waited for):")
        for row in rows {
            let parts = row.breakdown.sorted { $0.value > $1.value }.map { String(format: "%@ %.2f", $0.key, $0.value * 1e3) }
            say("\(row.backend) \(row.algorithm.rawValue) K = \(row.shape.components): " + parts.joined(separator: ", "))
        }
        if let csv {
            let header = "backend,device,algorithm,K,l,d,batch,samples_per_s,ms_per_step,train_gflops,gemm_gflops,ratio"
            let lines = rows.map { r in
                [r.backend, "\"\(r.device.replacingOccurrences(of: "\"", with: "'"))\"", r.algorithm.rawValue, String(r.shape.components),
                 String(r.shape.latent), String(r.shape.dimension), String(r.shape.batch), String(format: "%.1f", r.samplesPerSecond),
                 String(format: "%.3f", r.stepSeconds * 1e3), String(format: "%.2f", r.trainingGFLOPs),
                 String(format: "%.2f", r.gemmGFLOPs), String(format: "%.3f", r.ratio)].joined(separator: ",")
            }
            try AtomicFile.write(Array(([header] + lines).joined(separator: "\n").appending("\n").utf8), to: csv)
            say("wrote \(csv)")
        }
    }

    func measure(_ kind: Kind, algorithm: StepBenchmark.Algorithm, shape: StepBenchmark.Shape) throws -> StepBenchmark.Row {
        switch kind {
        case .cpu:
            let cpu = CPUBackend()
            if shape.components == components.values.first, algorithm == self.algorithm.values.first {
                say("cpu: \(cpu.name); GEMM reference: cblas_sgemm with OpenBLAS's threads on \(ProcessInfo.processInfo.activeProcessorCount) cores")
                say(Self.tableHeader)
            }
            return try StepBenchmark.measure(cpu, backend: "cpu", device: cpu.name, algorithm: algorithm, shape: shape,
                                             wait: {}, gemmReference: StepBenchmark.cblasSecondsPerStep(shape))
        case .opencl:
            let gpu = try OpenCLBackend(device: device, float32: openclFloat32)
            if shape.components == components.values.first, algorithm == self.algorithm.values.first {
                say("opencl: \(gpu.name); GEMM reference: CLBlast SGEMM on the same device, same shapes")
                say(Self.tableHeader)
            }
            return try StepBenchmark.measure(gpu, backend: "opencl", device: gpu.name, algorithm: algorithm, shape: shape,
                                             wait: gpu.finish, gemmReference: nil)
        }
    }

    static let tableHeader = """
        | backend | algorithm | K | batch | samples/s | ms/step | training GFLOP/s | GEMM GFLOP/s (same shapes) | ratio |
        |---|---|---|---|---|---|---|---|---|
        """

    func tableLine(_ r: StepBenchmark.Row) -> String {
        String(format: "| %@ | %@ | %d | %d | %.0f | %.2f | %.1f | %.1f | %.2f |", r.backend, r.algorithm.rawValue, r.shape.components,
               r.shape.batch, r.samplesPerSecond, r.stepSeconds * 1e3, r.trainingGFLOPs, r.gemmGFLOPs, r.ratio)
    }
}
