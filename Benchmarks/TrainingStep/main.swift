// Training-step throughput of each backend against its own GEMM rate, measured in one run.
//
//   swift run -c release TrainingStepBenchmark [cpu|opencl|both] [K ...]   (default: both, K = 50 500 2000)
//
// d = 784, l = 10, B = 256. A step does four GEMMs (DESIGN.md §2): forward [X∘X | X]·[E | −2E∘U]ᵀ
// and X·Γᵀ, backward weightedᵀ·X and wᵀ·(X∘X), in all 4·B·d·K·(l+2) flops, plus the light
// kernels, the optimizer and the M_k projection. "training GFLOP/s" counts those GEMM flops over
// the whole step's time. "GEMM GFLOP/s" is the backend's own GEMMs on exactly those shapes: for
// the CPU, cblas_sgemm with OpenBLAS's own threads; for OpenCL, CLBlast inside the step.
import CBLAS
import Foundation
import MFA
import MFACPU
import MFAOpenCL

let (d, l, batch) = (784, 10, 256)
let words = CommandLine.arguments.dropFirst()
let which = words.first(where: { ["cpu", "opencl", "both"].contains($0) }) ?? "both"
let requested = words.compactMap { Int($0) }
let sizes = requested.isEmpty ? [50, 500, 2000] : requested

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Repeats `body` until `budget` seconds have passed (at least `minimum` times); seconds per call.
func timePerCall(budget: Double, minimum: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    var calls = 0
    let start = now()
    while calls < minimum || now() - start < budget {
        try body()
        calls += 1
    }
    return (now() - start) / Double(calls)
}

/// cblas_sgemm alone on the step's four GEMM shapes, with OpenBLAS's own threading on all cores
/// (the CPU backend itself runs OpenBLAS single-threaded and splits GEMMs across cores).
func cblasSecondsPerStep(k: Int) -> Double {
    let backendSetting = openblas_get_num_threads()
    openblas_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
    defer { openblas_set_num_threads(backendSetting) }
    let width = k * (l + 1)
    let x = [Float](repeating: 0.5, count: batch * 2 * d), fq = [Float](repeating: 0.1, count: k * 2 * d)
    let gamma = [Float](repeating: 0.01, count: d * k * l), y = [Float](repeating: 0.01, count: batch * width)
    var q = [Float](repeating: 0, count: batch * k), z = [Float](repeating: 0, count: batch * k * l)
    var s = [Float](repeating: 0, count: d * width), s2 = [Float](repeating: 0, count: d * k)
    return timePerCall(budget: 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(k), Int32(2 * d), 1, x, Int32(2 * d),
                    fq, Int32(2 * d), 0, &q, Int32(k))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(k * l), Int32(d), 1, x, Int32(d),
                    gamma, Int32(d), 0, &z, Int32(k * l))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(width), Int32(d), Int32(batch), 1, y, Int32(width),
                    x, Int32(d), 0, &s, Int32(d))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(batch), 1, y, Int32(width),
                    x, Int32(2 * d), 0, &s2, Int32(d))
    }
}

struct Row {
    let backend: String, k: Int, stepSeconds: Double, gemmSeconds: Double
    let breakdown: [String: Double]
}

/// Times training steps on `base` (totals without per-operation waits, then a breakdown with them).
func measure<B: Backend>(_ base: B, label: String, k: Int, wait: @escaping () throws -> Void,
                         gemmReference: (() -> Double)?) throws -> Row {
    var random = RandomGenerator(seed: 1)
    let rows = 8 * batch
    let data = try Matrix(rows: rows, columns: d, values: (0..<(rows * d)).map { _ in Float(random.uniform()) })
    let backend = TimedBackend(base, wait: wait)
    var options = TrainingOptions()
    options.batchSize = batch
    let shape = try MixtureShape(components: k, dimension: d, latent: l)
    let start = try Initialiser.initialise(data, shape: shape, options: options, backend: backend, random: &random)
    let session = try SGDStrategy(backend: backend, start: start, data: data, options: options, totalSteps: 1_000_000)
    var next = 0
    func trainingStep() throws {
        try session.engine.loadBatch(data, rows: next..<(next + batch))
        try session.step()  // reads the batch's log-densities back: the step ends synchronised
        next = (next + batch) % rows
    }
    for _ in 0..<2 { try trainingStep() }  // warm-up: kernel builds, CLBlast's compilation
    let stepSeconds = try timePerCall(budget: 3, trainingStep)
    backend.synchronise = true
    backend.reset()
    var steps = 0
    _ = try timePerCall(budget: 2, minimum: 2) {
        try trainingStep()
        steps += 1
    }
    let breakdown = backend.seconds.mapValues { $0 / Double(steps) }
    return Row(backend: label, k: k, stepSeconds: stepSeconds,
               gemmSeconds: gemmReference?() ?? breakdown["gemm"] ?? .nan, breakdown: breakdown)
}

var rows = [Row]()
var names = [String]()
if which != "opencl" {
    let cpu = CPUBackend()
    names.append("cpu: \(cpu.name); GEMM reference: cblas_sgemm with OpenBLAS's threads on \(ProcessInfo.processInfo.activeProcessorCount) cores")
    for k in sizes { rows.append(try measure(cpu, label: "cpu", k: k, wait: {}, gemmReference: { cblasSecondsPerStep(k: k) })) }
}
if which != "cpu" {
    let gpu = try OpenCLBackend()
    names.append("opencl: \(gpu.name); GEMM reference: CLBlast SGEMM on the same device, same shapes")
    for k in sizes { rows.append(try measure(gpu, label: "opencl", k: k, wait: gpu.finish, gemmReference: nil)) }
}

print("training step, d = \(d), l = \(l), batch = \(batch)")
names.forEach { print($0) }
print("| backend | K | samples/s | ms/step | training GFLOP/s | GEMM GFLOP/s (same shapes) | ratio |")
print("|---|---|---|---|---|---|---|")
for row in rows {
    let flops = 2 * MixtureEngine<CPUBackend>.forwardFlops(shape: try MixtureShape(components: row.k, dimension: d, latent: l), rows: batch)
    print(String(format: "| %@ | %d | %.0f | %.2f | %.1f | %.1f | %.2f |", row.backend, row.k, Double(batch) / row.stepSeconds,
                 row.stepSeconds * 1e3, flops / row.stepSeconds * 1e-9, flops / row.gemmSeconds * 1e-9,
                 row.gemmSeconds / row.stepSeconds))
}
print("\nwhere a step's time goes (ms per step, each operation waited for):")
for row in rows {
    let parts = row.breakdown.sorted { $0.value > $1.value }.map { String(format: "%@ %.2f", $0.key, $0.value * 1e3) }
    print("\(row.backend) K = \(row.k): " + parts.joined(separator: ", "))
}
