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

/// Where training's coordinates sit in the data's: x = origin + deviation ∘ x' per column (DGMM
/// training whitens every column, which keeps layer 1's noise diagonal: η, Λ rows and ψ scale by
/// σ_j, σ_j and σ_j²), and the variance floors there.
struct DGMMUnits {
    let origin: [Double]
    let deviation: [Double]
    /// log σ²_min in training's units: per column for layer 1 (σ²_min/σ_j²), one value for the
    /// deeper layers' latent units.
    let inputLogFloor: [Double]
    let deeperLogFloor: Double
    /// Σ_j log σ_j: a log-density in training's units less this is one in the data's (every batch
    /// subtracts it, so it is kept, not summed again).
    let logJacobian: Double

    init(origin: [Double], deviation: [Double], inputLogFloor: [Double], deeperLogFloor: Double) {
        (self.origin, self.deviation, self.inputLogFloor, self.deeperLogFloor) = (origin, deviation, inputLogFloor, deeperLogFloor)
        logJacobian = deviation.reduce(0) { $0 + Foundation.log($1) }
    }

    func logFloor(layer i: Int, index p: Int) -> Double { i == 0 ? inputLogFloor[p % inputLogFloor.count] : deeperLogFloor }

    /// The data's own units, unfloored (for evaluating a model as it is).
    static func identity(dimension d: Int) -> DGMMUnits {
        DGMMUnits(origin: [Double](repeating: 0, count: d), deviation: [Double](repeating: 1, count: d),
                  inputLogFloor: [Double](repeating: -.infinity, count: d), deeperLogFloor: -.infinity)
    }
}

extension [DGMMLayerParameters] {
    /// Layer 1 carried into the coordinates x = origin + scale ∘ x' (float64; the deeper layers
    /// are latent and do not change).
    func transformed(_ shape: DGMMShape, origin: [Double], scale: [Double]) -> [DGMMLayerParameters] {
        var layers = self
        let (n, r) = (shape.dimension, shape.latent[0])
        for p in layers[0].means.indices { layers[0].means[p] = origin[p % n] + scale[p % n] * layers[0].means[p] }
        for p in layers[0].loadings.indices { layers[0].loadings[p] *= scale[p / r % n] }
        for p in layers[0].logNoise.indices { layers[0].logNoise[p] += 2 * Foundation.log(scale[p % n]) }
        return layers
    }
}
