import CLAPACKE
import Foundation
import MFA
import MFACPU

/// Dense float64 algebra on small cases: build every d×d matrix explicitly and use Cholesky.
/// This is the oracle the engine's Woodbury computations are checked against.
enum Dense {
    /// log N(x | μ, Σ) for a d×d covariance Σ (row-major).
    static func logNormal(_ x: [Double], mean: [Double], covariance: [Double]) -> Double {
        let d = x.count
        let l = cholesky(covariance, d)
        var y = zip(x, mean).map { $0 - $1 }
        for i in 0..<d {  // forward substitution L y = δ
            for j in 0..<i { y[i] -= l[i * d + j] * y[j] }
            y[i] /= l[i * d + i]
        }
        let logDet = (0..<d).reduce(0.0) { $0 + 2 * log(l[$1 * d + $1]) }
        return -0.5 * (Double(d) * log(2 * Double.pi) + logDet + y.reduce(0) { $0 + $1 * $1 })
    }

    /// log N(x | μ, P⁻¹) for a d×d precision P.
    static func logNormal(_ x: [Double], mean: [Double], precision: [Double]) -> Double {
        let d = x.count
        let l = cholesky(precision, d)
        let delta = zip(x, mean).map { $0 - $1 }
        var quadratic = 0.0
        for i in 0..<d { for j in 0..<d { quadratic += delta[i] * precision[i * d + j] * delta[j] } }
        let logDet = (0..<d).reduce(0.0) { $0 + 2 * log(l[$1 * d + $1]) }
        return -0.5 * (Double(d) * log(2 * Double.pi) - logDet + quadratic)
    }

    static func cholesky(_ matrix: [Double], _ n: Int) -> [Double] {
        var a = matrix
        let info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), lapack_int_t(n), &a, lapack_int_t(n))
        precondition(info == 0, "dense reference: matrix is not positive definite")
        for i in 0..<n { for j in (i + 1)..<n where j < n { a[i * n + j] = 0 } }
        return a
    }

    static func covariance(_ model: MixtureModel, component c: Int) -> [Double] {
        let (d, l) = (model.shape.dimension, model.shape.latent)
        var sigma = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d {
                var sum = i == j ? Double(model.noiseVariances[c * d + i]) : 0
                for a in 0..<l { sum += Double(model.loadings[(c * d + i) * l + a]) * Double(model.loadings[(c * d + j) * l + a]) }
                sigma[i * d + j] = sum
            }
        }
        return sigma
    }

    static func precision(_ p: PrecisionParameters, component c: Int) -> [Double] {
        let (d, l) = (p.shape.dimension, p.shape.latent)
        var matrix = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d {
                var sum = i == j ? Double(p.precisionDiagonal[c * d + i]) : 0
                for a in 0..<l {
                    sum -= Double(p.precisionLoadings[(c * d + i) * l + a]) * Double(p.precisionLoadings[(c * d + j) * l + a])
                }
                matrix[i * d + j] = sum
            }
        }
        return matrix
    }

    /// Per-sample log p(x) and responsibilities under a covariance-form model.
    static func evaluate(_ model: MixtureModel, _ data: Matrix) -> (logDensity: [Double], responsibilities: [[Double]]) {
        let (k, d) = (model.shape.components, model.shape.dimension)
        let covariances = (0..<k).map { covariance(model, component: $0) }
        var logDensity = [Double](), responsibilities = [[Double]]()
        for n in 0..<data.rows {
            let x = data.row(n).map(Double.init)
            let joint = (0..<k).map { c in
                log(Double(model.weights[c]))
                    + logNormal(x, mean: (0..<d).map { Double(model.means[c * d + $0]) }, covariance: covariances[c])
            }
            let top = joint.max()!
            let total = top + log(joint.reduce(0) { $0 + exp($1 - top) })
            logDensity.append(total)
            responsibilities.append(joint.map { exp($0 - total) })
        }
        return (logDensity, responsibilities)
    }

    /// The training loss −mean log p(x) as a function of the engine's θ (centred coordinates),
    /// built from dense precision matrices: what finite differences differentiate.
    static func loss(theta: [Double], shape: MixtureShape, centredData x: [[Double]]) -> Double {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape)
        let logits = Array(theta[layout.logits])
        let top = logits.max()!
        let logNormaliser = top + log(logits.reduce(0) { $0 + exp($1 - top) })
        var precisions = [[Double]](), means = [[Double]]()
        for c in 0..<k {
            var p = [Double](repeating: 0, count: d * d)
            for i in 0..<d {
                p[i * d + i] = exp(theta[layout.logPrecision.lowerBound + c * d + i])
                for j in 0..<d {
                    for a in 0..<l {
                        p[i * d + j] -= theta[layout.loadings.lowerBound + (c * l + a) * d + i]
                            * theta[layout.loadings.lowerBound + (c * l + a) * d + j]
                    }
                }
            }
            precisions.append(p)
            means.append(Array(theta[(layout.means.lowerBound + c * d)..<(layout.means.lowerBound + (c + 1) * d)]))
        }
        var total = 0.0
        for sample in x {
            let joint = (0..<k).map { c in
                logits[c] - logNormaliser + logNormal(sample, mean: means[c], precision: precisions[c])
            }
            let best = joint.max()!
            total += best + log(joint.reduce(0) { $0 + exp($1 - best) })
        }
        return -total / Double(x.count)
    }
}

/// Random test models and data, reproducible from a seed.
enum Fixtures {
    static func model(_ shape: MixtureShape, seed: UInt64, loadingScale: Double = 0.7) -> MixtureModel {
        var random = RandomGenerator(seed: seed)
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        var weights = (0..<k).map { _ in Float(0.5 + random.uniform()) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        let means = (0..<(k * d)).map { _ in Float(2 * random.normal()) }
        let loadings = (0..<(k * d * l)).map { _ in Float(loadingScale * random.normal()) }
        let noise = (0..<(k * d)).map { _ in Float(0.2 + 0.8 * random.uniform()) }
        return try! MixtureModel(shape: shape, weights: weights, means: means, loadings: loadings, noiseVariances: noise)
    }

    /// `count` rows drawn from `model(shape, seed: modelSeed, loadingScale: 1)` with a generator of
    /// their own, and that model.
    static func drawn(_ shape: MixtureShape, modelSeed: UInt64, dataSeed: UInt64, count: Int) -> (truth: MixtureModel, data: Matrix) {
        let truth = model(shape, seed: modelSeed, loadingScale: 1.0)
        var random = RandomGenerator(seed: dataSeed)
        return (truth, truth.sample(count: count, random: &random).samples)
    }

    /// K = 3, l = 2, d = 10, 6,000 rows from `MFASimulation`: column scales in [1, 10⁴], offsets
    /// in [−1000, 1000] (what `mfa simulate mfa --column-scale 1e4 --offset 1000` draws).
    static func wideRange(signalToNoise: Double, seed: UInt64 = 1) throws -> (truth: MixtureModel, data: Matrix) {
        var random = RandomGenerator(seed: seed)
        let truth = try MFASimulation.model(try MixtureShape(components: 3, dimension: 10, latent: 2),
                                            settings: .init(signalToNoise: signalToNoise, columnScale: 1e4, offset: 1000),
                                            random: &random)
        return (truth, truth.sample(count: 6000, random: &random).samples)
    }

    static func data(rows: Int, columns: Int, seed: UInt64, scale: Double = 2) -> Matrix {
        var random = RandomGenerator(seed: seed)
        return try! Matrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in Float(scale * random.normal()) })
    }

    static func readParameters(_ engine: MixtureEngine<CPUBackend>) -> [Double] {
        Array(UnsafeBufferPointer(start: engine.parameters.pointer, count: engine.layout.count)).map(Double.init)
    }
}

/// max |a − b| / (atol + rtol·|b|) ≤ 1 for every pair.
func close(_ a: [Double], _ b: [Double], atol: Double, rtol: Double) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
}
