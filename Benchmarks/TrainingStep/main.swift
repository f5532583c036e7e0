// Training-step throughput against cblas_sgemm on the same shapes, measured in one run.
//
//   swift run -c release TrainingStepBenchmark [K ...]     (default: 50 500; d = 784, l = 10, B = 256)
//
// A step does four GEMMs (DESIGN.md §2): forward [X∘X | X]·[E | −2E∘U]ᵀ and X·Γ, backward
// Xᵀ·[W∘Z | W] and (X∘X)ᵀ·W, in all 4·B·d·K·(l+2) flops, plus the light kernels, the optimizer
// and the M_k projection. "training GFLOP/s" counts those GEMM flops over the whole step's time;
// "sgemm GFLOP/s" times cblas_sgemm alone on exactly the four shapes, in this process.
import CBLAS
import Foundation
import MFA
import MFACPU

let (d, l, batch) = (784, 10, 256)
let componentCounts = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let sizes = componentCounts.isEmpty ? [50, 500] : componentCounts

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
/// (the backend itself runs OpenBLAS single-threaded and splits GEMMs across cores).
func sgemmSecondsPerStep(k: Int) -> Double {
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(k * l), Int32(d), 1, x, Int32(d),
                    gamma, Int32(k * l), 0, &z, Int32(k * l))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(width), Int32(batch), 1, x, Int32(d),
                    y, Int32(width), 0, &s, Int32(width))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(k), Int32(batch), 1, x, Int32(2 * d),
                    y, Int32(width), 0, &s2, Int32(k))
    }
}

print("training step, d = \(d), l = \(l), batch = \(batch), \(CPUBackend().name); cblas_sgemm with OpenBLAS's threads on \(ProcessInfo.processInfo.activeProcessorCount) cores")
print("| K | samples/s | ms/step | training GFLOP/s | cblas_sgemm GFLOP/s (same shapes) | ratio | share of step in GEMMs |")
print("|---|---|---|---|---|---|---|")
var breakdowns = [(Int, [String: Double], Double)]()
for k in sizes {
    var random = RandomGenerator(seed: 1)
    let rows = 8 * batch
    let data = try Matrix(rows: rows, columns: d, values: (0..<(rows * d)).map { _ in Float(random.uniform()) })
    let backend = TimedBackend(CPUBackend())
    var options = TrainingOptions()
    options.batchSize = batch
    let shape = try MixtureShape(components: k, dimension: d, latent: l)
    let start = try Initialiser.initialise(data, shape: shape, options: options, backend: backend, random: &random)
    let session = try SGDSession(backend: backend, start: start, data: data, options: options, totalSteps: 1_000_000)
    var next = 0
    func trainingStep() throws {
        try session.engine.loadBatch(data, rows: next..<(next + batch))
        try session.step()
        next = (next + batch) % rows
    }
    for _ in 0..<3 { try trainingStep() }  // warm-up
    backend.reset()
    var steps = 0
    let stepSeconds = try timePerCall(budget: 3) {
        try trainingStep()
        steps += 1
    }
    let flops = 2 * MixtureEngine<CPUBackend>.forwardFlops(shape: shape, rows: batch)
    let sgemm = sgemmSecondsPerStep(k: k)
    let gemmShare = (backend.seconds["gemm"] ?? 0) / Double(steps) / stepSeconds
    print(String(format: "| %d | %.0f | %.2f | %.1f | %.1f | %.2f | %.0f%% |", k, Double(batch) / stepSeconds,
                 stepSeconds * 1e3, flops / stepSeconds * 1e-9, flops / sgemm * 1e-9, sgemm / stepSeconds, 100 * gemmShare))
    breakdowns.append((k, backend.seconds.mapValues { $0 / Double(steps) }, stepSeconds))
}
print("\nwhere a step's time goes (ms per step):")
for (k, seconds, total) in breakdowns {
    let parts = seconds.sorted { $0.value > $1.value }.map { String(format: "%@ %.2f", $0.key, $0.value * 1e3) }
    print("K = \(k) (\(String(format: "%.2f", total * 1e3)) ms): " + parts.joined(separator: ", "))
}
