import CBLAS
import Foundation
import MFA

/// One training step's speed against the backend's own GEMM rate on the same shapes, measured in
/// one run (`mfa bench`). A step of either algorithm does four GEMMs (docs/DESIGN.md §2):
/// forward [X∘X | X]·[E | −2E∘U]ᵀ and X·Γᵀ, then the batch sums weightedᵀ·X and wᵀ·(X∘X), in all
/// 4·B·d·K·(l+2) flops, plus the light kernels and, for SGD, Adam and the M_k projection, for
/// online EM, the host M-step. "training GFLOP/s" counts those GEMM flops over the whole step.
public enum StepBenchmark {
    public enum Algorithm: String, CaseIterable, Sendable { case sgd, onlineEM = "online-em" }

    public struct Shape: Sendable {
        public var components: Int, latent: Int, dimension: Int, batch: Int
        public init(components: Int, latent: Int, dimension: Int, batch: Int) {
            (self.components, self.latent, self.dimension, self.batch) = (components, latent, dimension, batch)
        }
        public var flops: Double { 4 * Double(batch) * Double(dimension) * Double(components) * Double(latent + 2) }
    }

    public struct Row: Sendable {
        public var backend: String, device: String, algorithm: Algorithm, shape: Shape
        public var stepSeconds: Double, gemmSeconds: Double
        /// Seconds per step in each backend operation, each waited for.
        public var breakdown: [String: Double]
        public var samplesPerSecond: Double { Double(shape.batch) / stepSeconds }
        public var trainingGFLOPs: Double { shape.flops / stepSeconds * 1e-9 }
        public var gemmGFLOPs: Double { shape.flops / gemmSeconds * 1e-9 }
        public var ratio: Double { gemmSeconds / stepSeconds }
    }

    /// Times steps on `base` (totals without per-operation waits, then a breakdown with them).
    /// `gemmReference` gives the backend's own GEMM seconds for the step's shapes, timed for about
    /// the seconds it is given; nil: the time the step spends in the backend's `gemm`. Steps and
    /// GEMMs are timed in alternating rounds and each figure is the median of its rounds, so the
    /// ratio compares the two under the same load (a shared machine's speed drifts by 5–15%
    /// within seconds: timed one after the other, the same build read 0.62–0.69).
    public static func measure<B: Backend>(_ base: B, backend label: String, device: String, algorithm: Algorithm, shape: Shape,
                                           wait: @escaping () throws -> Void, gemmReference: ((Double) -> Double)?) throws -> Row {
        var random = RandomGenerator(seed: 1)
        let rows = 8 * shape.batch
        let data = try Matrix(rows: rows, columns: shape.dimension,
                              values: (0..<(rows * shape.dimension)).map { _ in Float(random.uniform()) })
        let timed = TimedBackend(base, wait: wait)
        var options = TrainingOptions()
        options.batchSize = shape.batch
        let mixture = try MixtureShape(components: shape.components, dimension: shape.dimension, latent: shape.latent)
        let start = try Initialiser.initialise(data, shape: mixture, options: options, backend: timed, random: &random)
        let strategy: any TrainingStrategy = algorithm == .sgd
            ? try SGDStrategy(backend: timed, start: try start.precisionParameters(), data: data, options: options, totalSteps: 1_000_000)
            : try OnlineEMStrategy(backend: timed, start: try start.covarianceModel(), data: data, options: options)
        var next = 0
        func step() throws {
            try load(strategy, data, rows: next..<(next + shape.batch))
            try accumulateAndUpdate(strategy)  // an SGD step reads nothing back: the timing waits at its end
            next = (next + shape.batch) % rows
        }
        for _ in 0..<2 { try step() }  // warm-up: kernel builds, CLBlast's compilation
        try wait()
        var stepRounds = [Double](), gemmRounds = [Double]()
        for _ in 0..<rounds {
            stepRounds.append(try timePerCall(budget: 0.6, minimum: 1, step, finish: wait))
            if let gemmReference {
                gemmRounds.append(gemmReference(0.4))
                Thread.sleep(forTimeInterval: 0.3)  // OpenBLAS's threads spin a while after a call: not into the next round
            }
        }
        timed.synchronise = true
        timed.reset()
        var steps = 0
        _ = try timePerCall(budget: 2, minimum: 2, {
            try step()
            steps += 1
        }, finish: wait)
        let breakdown = timed.seconds.mapValues { $0 / Double(steps) }
        return Row(backend: label, device: device, algorithm: algorithm, shape: shape, stepSeconds: median(stepRounds),
                   gemmSeconds: gemmRounds.isEmpty ? breakdown["gemm"] ?? .nan : median(gemmRounds), breakdown: breakdown)
    }

    /// Rounds of step timing (0.6 s each) and of GEMM timing (0.4 s each), alternating.
    static let rounds = 5

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private static func load<T: TrainingStrategy>(_ strategy: T, _ data: Matrix, rows: Range<Int>) throws {
        try strategy.engine.loadBatch(data, rows: rows)
    }

    private static func accumulateAndUpdate<T: TrainingStrategy>(_ strategy: T) throws {
        try strategy.beginBatch(BatchShare(rows: strategy.engine.rows, whole: true))
        _ = try strategy.accumulate()
        _ = try strategy.update(reducer: SingleProcess())
    }

    /// Repeats `body` until `budget` seconds have passed (at least `minimum` times), then runs
    /// `finish` (waiting for the device); seconds per call, the wait included.
    static func timePerCall(budget: Double, minimum: Int = 3, _ body: () throws -> Void,
                            finish: () throws -> Void) rethrows -> Double {
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        var calls = 0
        let start = now()
        while calls < minimum || now() - start < budget {
            try body()
            calls += 1
        }
        try finish()
        return (now() - start) / Double(calls)
    }

    /// cblas_sgemm alone on the step's four GEMM shapes, with OpenBLAS's own threading on all cores
    /// (the CPU backend itself runs OpenBLAS single-threaded and splits GEMMs across cores): a
    /// timer that runs them for about the seconds it is given, its buffers allocated once.
    public static func cblasSecondsPerStep(_ shape: Shape) -> (Double) -> Double {
        let (k, l, d, batch) = (shape.components, shape.latent, shape.dimension, shape.batch)
        let width = k * (l + 1)
        let x = [Float](repeating: 0.5, count: batch * 2 * d), fq = [Float](repeating: 0.1, count: k * 2 * d)
        let gamma = [Float](repeating: 0.01, count: d * k * max(l, 1)), y = [Float](repeating: 0.01, count: batch * width)
        var q = [Float](repeating: 0, count: batch * k), z = [Float](repeating: 0, count: batch * k * max(l, 1))
        var s = [Float](repeating: 0, count: d * width), s2 = [Float](repeating: 0, count: d * k)
        return { budget in
            let backendSetting = openblas_get_num_threads()
            openblas_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
            defer { openblas_set_num_threads(backendSetting) }
            return timePerCall(budget: budget, {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(k), Int32(2 * d), 1, x, Int32(2 * d),
                            fq, Int32(2 * d), 0, &q, Int32(k))
                if l > 0 {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(k * l), Int32(d), 1, x, Int32(d),
                                gamma, Int32(d), 0, &z, Int32(k * l))
                }
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(width), Int32(d), Int32(batch), 1, y, Int32(width),
                            x, Int32(d), 0, &s, Int32(d))
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(batch), 1, y, Int32(width),
                            x, Int32(2 * d), 0, &s2, Int32(d))
            }, finish: {})
        }
    }
}
