import Foundation
import MFA
import MFACPU
import Testing

/// A DGMM's marginal composed with dense float64 matrices: every path's Σ built in full, d×d.
enum DenseDGMM {
    static func paths(_ layers: [DGMMLayerParameters], shape: DGMMShape) -> [(logWeight: Double, mean: [Double], covariance: [Double])] {
        (0..<shape.pathCount).map { path in
            let choices = shape.choices(path: path)
            var mean = [Double](repeating: 0, count: shape.latent.last!)
            var s = (0..<(mean.count * mean.count)).map { $0 / mean.count == $0 % mean.count ? 1.0 : 0.0 }
            var logWeight = 0.0
            for i in stride(from: shape.layers - 1, through: 0, by: -1) {
                let (n, r, g) = (shape.inputDimension(layer: i), shape.latent[i], choices[i])
                let lambda = { (a: Int, b: Int) in layers[i].loadings[(g * n + a) * r + b] }
                mean = (0..<n).map { a in layers[i].means[g * n + a] + (0..<r).reduce(0) { $0 + lambda(a, $1) * mean[$1] } }
                var next = [Double](repeating: 0, count: n * n)
                for a in 0..<n {
                    for b in 0..<n {
                        for p in 0..<r { for q in 0..<r { next[a * n + b] += lambda(a, p) * s[p * r + q] * lambda(b, q) } }
                    }
                    next[a * n + a] += exp(layers[i].logNoise[g * n + a])
                }
                s = next
                let logits = layers[i].logits, top = logits.max()!
                logWeight += logits[g] - top - log(logits.reduce(0) { $0 + exp($1 - top) })
            }
            return (logWeight, mean, s)
        }
    }

    static func logDensity(_ layers: [DGMMLayerParameters], shape: DGMMShape, data: Matrix) -> [Double] {
        let components = paths(layers, shape: shape)
        return (0..<data.rows).map { n in
            let x = data.row(n).map(Double.init)
            let joint = components.map { $0.logWeight + Dense.logNormal(x, mean: $0.mean, covariance: $0.covariance) }
            let top = joint.max()!
            return top + log(joint.reduce(0) { $0 + exp($1 - top) })
        }
    }

    static func loss(_ layers: [DGMMLayerParameters], shape: DGMMShape, data: Matrix) -> Double {
        -logDensity(layers, shape: shape, data: data).reduce(0, +) / Double(data.rows)
    }

    /// A random DGMM whose paths overlap (so that every gradient term matters).
    static func model(_ shape: DGMMShape, seed: UInt64) throws -> DGMMModel {
        var random = RandomGenerator(seed: seed)
        return try DGMMModel(shape: shape, layers: (0..<shape.layers).map { i in
            let (g, n, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            let weights = (0..<g).map { _ in Float(0.5 + random.uniform()) }
            return DGMMLayer(weights: weights.map { $0 / weights.reduce(0, +) },
                             means: (0..<(g * n)).map { _ in Float(random.normal()) },
                             loadings: (0..<(g * n * r)).map { _ in Float(0.6 * random.normal()) },
                             noiseVariances: (0..<(g * n)).map { _ in Float(0.3 + 0.7 * random.uniform()) })
        })
    }
}

@Suite struct DGMMTests {
    static let shapes: [(d: Int, components: [Int], latent: [Int])] = [
        (5, [3], [2]), (5, [2, 2], [3, 1]), (6, [2, 3, 2], [4, 2, 1]), (4, [1, 2], [3, 2]),
    ]

    @Test("The path-marginal log-likelihood equals dense algebra on every path's full Σ", arguments: shapes.indices)
    func logLikelihoodMatchesDense(index: Int) throws {
        let (d, components, latent) = Self.shapes[index]
        let shape = try DGMMShape(dimension: d, components: components, latent: latent)
        let model = try DenseDGMM.model(shape, seed: 40 + UInt64(index))
        let data = Fixtures.data(rows: 29, columns: d, seed: 400 + UInt64(index), scale: 1.5)
        let engine = try model.pathMixture().engine(backend: CPUBackend(), batchSize: 8)
        let reference = DenseDGMM.logDensity(DGMMLayerParameters.of(model), shape: shape, data: data)
        #expect(close(try engine.evaluate(data).logDensity, reference, atol: 2e-3, rtol: 2e-5))
    }

    @Test("Every DGMM gradient, chained through the paths, equals finite differences", arguments: shapes.indices)
    func gradientMatchesFiniteDifferences(index: Int) throws {
        let (d, components, latent) = Self.shapes[index]
        let shape = try DGMMShape(dimension: d, components: components, latent: latent)
        let model = try DenseDGMM.model(shape, seed: 50 + UInt64(index))
        let data = Fixtures.data(rows: 23, columns: d, seed: 500 + UInt64(index), scale: 1.5)
        let (loss, gradient) = try model.lossGradient(data, backend: CPUBackend())
        let layers = DGMMLayerParameters.of(model)
        #expect(abs(loss - DenseDGMM.loss(layers, shape: shape, data: data)) < 1e-3)
        let h = 1e-5
        for i in layers.indices {
            for (name, field) in [("logits", \DGMMLayerParameters.logits), ("means", \.means), ("loadings", \.loadings),
                                  ("logNoise", \.logNoise)] {
                let numeric = layers[i][keyPath: field].indices.map { p in
                    var plus = layers, minus = layers
                    plus[i][keyPath: field][p] += h
                    minus[i][keyPath: field][p] -= h
                    return (DenseDGMM.loss(plus, shape: shape, data: data) - DenseDGMM.loss(minus, shape: shape, data: data)) / (2 * h)
                }
                let analytic = gradient[i][keyPath: field]
                #expect(close(analytic, numeric, atol: 2e-3, rtol: 2e-3), "layer \(i + 1) \(name): \(analytic) vs \(numeric)")
            }
        }
    }
}
