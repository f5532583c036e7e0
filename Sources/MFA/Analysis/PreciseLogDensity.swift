import Dispatch
import Foundation

/// log p(x) in float64 on the host, in the covariance form and without cancellation
/// (DESIGN.md §1, "Range"): with δ = x − μ_k, A_k = I + Λ_kᵀΨ_k⁻¹Λ_k and m = A_k⁻¹Λ_kᵀΨ_k⁻¹δ
/// (the posterior mean of z),
///
///     δᵀΣ_k⁻¹δ = ‖Ψ_k^(−½)(δ − Λ_k m)‖² + ‖m‖²,   log det Σ_k = Σ_j log ψ_kj + log det A_k.
///
/// Both terms are sums of squares, so nothing cancels whatever the data's offset or the
/// components' signal-to-noise ratio, where the float32 engine's expanded quadratic
/// Σ e x² − 2x·(e∘μ) + Σ e μ² − ‖Γᵀδ‖² can lose every digit. O(K·d·l) per row on the host: the
/// reference the engine is checked against on a sample of rows (`PrecisionCheck`), and `score`'s
/// fallback when that check fails.
public struct PreciseLogDensity: Sendable {
    let shape: MixtureShape
    let means: [Double]
    let loadings: [Double]
    let inverseNoise: [Double]
    /// A_k⁻¹, [K, l, l], from `MixtureModel.latentPrecision` (eigenvalues clamped at 1: Cholesky
    /// fails on round-off when Ψ sits at a floor of 10⁻¹²).
    let inverses: [Double]
    /// log π_k − ½(d log 2π + log det Σ_k).
    let constants: [Double]

    public init(_ model: MixtureModel) throws {
        let (k, d, l) = (model.shape.components, model.shape.dimension, model.shape.latent)
        shape = model.shape
        means = model.means.map(Double.init)
        loadings = model.loadings.map(Double.init)
        inverseNoise = model.noiseVariances.map { 1 / Double($0) }
        var inverses = [Double](), constants = [Double]()
        for c in 0..<k {
            let (s, vectors) = try model.latentPrecision(c)
            var inverse = [Double](repeating: 0, count: l * l)
            for p in 0..<l { for q in 0..<l { for r in 0..<l { inverse[p * l + q] += vectors[p * l + r] * vectors[q * l + r] / s[r] } } }
            inverses += inverse
            var logDet = s.reduce(0.0) { $0 + Foundation.log($1) }
            for j in 0..<d { logDet -= Foundation.log(inverseNoise[c * d + j]) }
            constants.append(Foundation.log(Double(model.weights[c])) - 0.5 * (Double(d) * Foundation.log(2 * Double.pi) + logDet))
        }
        self.inverses = inverses
        self.constants = constants
    }

    /// log π_k + log N(x | μ_k, Σ_k) for every component k of one row of d values, into `terms`.
    public func componentTerms(_ x: UnsafePointer<Double>, into terms: UnsafeMutablePointer<Double>) {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        var delta = [Double](repeating: 0, count: d), m = [Double](repeating: 0, count: l)
        for c in 0..<k {
            for j in 0..<d { delta[j] = x[j] - means[c * d + j] }
            for p in 0..<l { m[p] = 0 }
            for j in 0..<d {
                let v = delta[j] * inverseNoise[c * d + j], row = (c * d + j) * l
                for p in 0..<l { m[p] += loadings[row + p] * v }
            }
            let b = m
            for p in 0..<l {
                var sum = 0.0
                for q in 0..<l { sum += inverses[(c * l + p) * l + q] * b[q] }
                m[p] = sum
            }
            var quadratic = 0.0
            for p in 0..<l { quadratic += m[p] * m[p] }
            for j in 0..<d {
                var residual = delta[j]
                let row = (c * d + j) * l
                for p in 0..<l { residual -= loadings[row + p] * m[p] }
                quadratic += residual * residual * inverseNoise[c * d + j]
            }
            terms[c] = constants[c] - 0.5 * quadratic
        }
    }

    /// log p(x) for one row of d values.
    public func logDensity(_ x: UnsafePointer<Double>) -> Double {
        var terms = [Double](repeating: 0, count: shape.components)
        componentTerms(x, into: &terms)
        return Self.logSumExp(terms)
    }

    static func logSumExp(_ terms: some Collection<Double>) -> Double {
        let top = terms.max() ?? 0
        return top + Foundation.log(terms.reduce(0) { $0 + Foundation.exp($1 - top) })
    }

    /// log p(x) for `rows` of `data` (read as float64: exact for float64 files), on every core.
    public func logDensities(_ data: some SampleSource, rows: [Int]) throws -> [Double] {
        try perRow(data, rows: rows, width: 1) { x, out in out[0] = logDensity(x) }
    }

    /// p(k | x), [rows, K] row-major: the MAP labels of `predict` where float32 cannot tell the
    /// components apart (the same sums of squares as `logDensity`).
    public func responsibilities(_ data: some SampleSource, rows: [Int]) throws -> [Double] {
        let k = shape.components
        return try perRow(data, rows: rows, width: k) { x, out in
            componentTerms(x, into: out)
            let total = Self.logSumExp(UnsafeBufferPointer(start: out, count: k))
            for c in 0..<k { out[c] = Foundation.exp(out[c] - total) }
        }
    }

    /// `width` values per row from `body`, rows read as float64 a block of 4,096 at a time (a
    /// mapped file larger than memory streams through) and each block spread over every core.
    private func perRow(_ data: some SampleSource, rows: [Int], width: Int,
                        _ body: (UnsafePointer<Double>, UnsafeMutablePointer<Double>) -> Void) throws -> [Double] {
        let d = shape.dimension, block = 4096
        var values = [Double](repeating: 0, count: min(rows.count, block) * d)
        var out = [Double](repeating: 0, count: rows.count * width)
        try withoutActuallyEscaping(body) { body in
            let work = UnsafeSendable(body)
            for start in stride(from: 0, to: rows.count, by: block) {
                let count = min(block, rows.count - start)
                try values.withUnsafeMutableBufferPointer { target in
                    for n in 0..<count { try data.copyRow(rows[start + n], intoDoubles: target.baseAddress! + n * d) }
                }
                let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count))
                out.withUnsafeMutableBufferPointer { target in
                    let result = UnsafeSendable(target.baseAddress! + start * width)
                    values.withUnsafeBufferPointer { values in
                        let source = UnsafeSendable(values)
                        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                            for n in (count * chunk / chunks)..<(count * (chunk + 1) / chunks) {
                                work.value(source.value.baseAddress! + n * d, result.value + n * width)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// A buffer handed to concurrent workers that write disjoint parts of it.
private struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// How far the float32 engine's log-densities lie from float64 (`PreciseLogDensity`) on a few
/// rows spread over the data: the check that keeps a range problem from passing silently.
public struct PrecisionCheck: Sendable {
    public let rows: Int
    /// The largest and the mean absolute difference, in nats per sample.
    public let maximum: Double
    public let mean: Double
    /// The mean |log p| of the rows, in float64.
    public let magnitude: Double

    /// Whether every checked row is within 0.1 nats, or 10⁻⁴ of the mean |log p| where that is
    /// larger (float32 carries 7 digits; on Fashion-MNIST, |log p| ≈ 1,000, the engine was within
    /// 0.014 nats).
    public var passes: Bool { maximum <= max(0.1, 1e-4 * magnitude) }

    /// Compares the engine's values with float64 on evenly spaced rows of `data`: 256, fewer for
    /// large K (float64 on the host costs O(K·d·l) per row).
    public init<B: Backend>(_ model: MixtureModel, data: some SampleSource, backend: B, count: Int? = nil) throws {
        let count = count ?? min(256, max(16, 12_800 / max(model.shape.components, 1)))
        let step = max(1, data.rows / max(count, 1))
        let rows = Array(stride(from: 0, to: data.rows, by: step).prefix(count))
        let engine = try model.engine(backend: backend, batchSize: max(rows.count, 1))
        try engine.loadBatch(data, rows: rows)
        try engine.forward()
        let single = try engine.readLogDensity()
        let double = try PreciseLogDensity(model).logDensities(data, rows: rows)
        let differences = zip(single, double).map { $0.isFinite ? abs($0 - $1) : .infinity }
        self.rows = rows.count
        maximum = differences.max() ?? 0
        mean = differences.reduce(0, +) / Double(max(differences.count, 1))
        magnitude = double.reduce(0) { $0 + abs($1) } / Double(max(double.count, 1))
    }
}
