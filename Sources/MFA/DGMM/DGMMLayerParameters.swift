import Foundation

/// One DGMM layer in float64 as training holds it: unconstrained coordinates (mixing logits and
/// log noise variances), so that any step keeps π on the simplex and ψ positive.
public struct DGMMLayerParameters: Sendable, Equatable {
    /// [G]; π = softmax(logits).
    public var logits: [Double]
    /// η, [G, n].
    public var means: [Double]
    /// Λ, [G, n, r].
    public var loadings: [Double]
    /// log ψ, [G, n].
    public var logNoise: [Double]

    /// The fields, for code that treats every parameter alike (the optimiser).
    static var fields: [WritableKeyPath<DGMMLayerParameters, [Double]>] { [\.logits, \.means, \.loadings, \.logNoise] }
    /// The fields' names in saved states, in the order of `fields`.
    static var names: [String] { ["logits", "means", "loadings", "log_noise"] }

    /// Zeros, for gradients and optimiser moments.
    init(components g: Int, input n: Int, latent r: Int) {
        logits = [Double](repeating: 0, count: g)
        means = [Double](repeating: 0, count: g * n)
        loadings = [Double](repeating: 0, count: g * n * r)
        logNoise = [Double](repeating: 0, count: g * n)
    }

    public init(logits: [Double], means: [Double], loadings: [Double], logNoise: [Double]) {
        self.logits = logits
        self.means = means
        self.loadings = loadings
        self.logNoise = logNoise
    }

    static func zeros(_ shape: DGMMShape) -> [DGMMLayerParameters] {
        (0..<shape.layers).map {
            DGMMLayerParameters(components: shape.components[$0], input: shape.inputDimension(layer: $0), latent: shape.latent[$0])
        }
    }

    public static func of(_ model: DGMMModel) -> [DGMMLayerParameters] {
        model.layers.map { layer in
            DGMMLayerParameters(logits: layer.weights.map { Foundation.log(Double($0)) }, means: layer.means.map(Double.init),
                            loadings: layer.loadings.map(Double.init),
                            logNoise: layer.noiseVariances.map { Foundation.log(Double($0)) })
        }
    }
}

extension [DGMMLayerParameters] {
    /// The float32 model, weights normalised.
    public func model(_ shape: DGMMShape) throws -> DGMMModel {
        try DGMMModel(shape: shape, layers: map { layer in
            DGMMLayer(weights: softmax(layer.logits.map(Float.init)).map { Swift.max(Float($0), .leastNormalMagnitude) },
                      means: layer.means.map(Float.init), loadings: layer.loadings.map(Float.init),
                      noiseVariances: layer.logNoise.map { Float(Foundation.exp($0)) })
        })
    }

    /// log π_path for every path: the sum of the layers' log-softmax at the path's choices.
    func logPathWeights(_ shape: DGMMShape) -> [Double] {
        let logSoftmax = map { layer -> [Double] in
            let top = layer.logits.max()!
            let total = Foundation.log(layer.logits.reduce(0) { $0 + Foundation.exp($1 - top) }) + top
            return layer.logits.map { $0 - total }
        }
        return (0..<shape.pathCount).map { path in
            shape.choices(path: path).enumerated().reduce(0) { $0 + logSoftmax[$1.offset][$1.element] }
        }
    }

    /// Every path's composition, in path order.
    func pathTerms(_ shape: DGMMShape) -> [PathTerms] {
        (0..<shape.pathCount).map { PathTerms(self, shape: shape, path: $0) }
    }

    /// The paths as an MFA in covariance form (DESIGN.md §3): loadings Λ_1·C with C Cᵀ = S_2.
    func pathMixture(_ shape: DGMMShape, terms paths: [PathTerms]? = nil) throws -> MixtureModel {
        let pathShape = try shape.pathShape
        let (d, r) = (shape.dimension, shape.latent[0])
        var means = [Float](), loadings = [Float](), noise = [Float]()
        for (path, terms) in (paths ?? pathTerms(shape)).enumerated() {
            guard let root = SmallLinearAlgebra.cholesky(terms.inner[1], order: r) else {
                throw MFAError.numerical("path \(path): the covariance S_2 of its deeper layers is not positive definite")
            }
            let g = terms.choices[0]
            means += terms.means[0].map(Float.init)
            loadings += SmallLinearAlgebra.product(terms.loadings(0), root, d, r, r).map(Float.init)
            noise += self[0].logNoise[(g * d)..<((g + 1) * d)].map { Float(Foundation.exp($0)) }
        }
        let weights = logPathWeights(shape).map { Swift.max(Float(Foundation.exp($0)), .leastNormalMagnitude) }
        return try MixtureModel(shape: pathShape, weights: weights, means: means, loadings: loadings, noiseVariances: noise)
    }
}

extension DGMMLayerParameters {
    /// Layers into a strategy's state (float64, exact), as "\(prefix)layers.i.field".
    static func save(_ layers: [DGMMLayerParameters], into state: inout StrategyState, prefix: String) {
        for (i, layer) in layers.enumerated() {
            for (name, field) in zip(names, fields) { state.doubles["\(prefix)layers.\(i + 1).\(name)"] = layer[keyPath: field] }
        }
    }

    /// Layers that `save` wrote, checked against `shape`.
    static func restore(_ shape: DGMMShape, from state: StrategyState, prefix: String) throws -> [DGMMLayerParameters] {
        var layers = zeros(shape)
        for i in layers.indices {
            for (name, field) in zip(names, fields) {
                let values = try state.doubles("\(prefix)layers.\(i + 1).\(name)")
                guard values.count == layers[i][keyPath: field].count else {
                    throw MFAError.shapeMismatch("the saved DGMM state does not fit \(shape)")
                }
                layers[i][keyPath: field] = values
            }
        }
        return layers
    }
}
