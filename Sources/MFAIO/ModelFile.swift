import Foundation
import MFA

/// Model files: safetensors with the covariance form (the canonical parameters), the precision
/// form beside it, and metadata (DESIGN.md §5). Written atomically.
public enum ModelFile {
    public static let format = "swift-mfa"

    public struct Contents: Sendable {
        /// The mixture the file describes: the MFA itself, or a DGMM's mixture over its paths.
        public var model: MixtureModel
        /// The layers, when the file holds a DGMM.
        public var dgmm: DGMMModel?
        /// Everything in `__metadata__`: format, kind, sizes, training options, image shape.
        public var metadata: [String: String]

        public var imageShape: ImageShape? { metadata["image_shape"].flatMap(ImageShape.init) }
    }

    /// `__metadata__.kind` of the two model files (`FileKind` tells them from checkpoints by it).
    static let mfaKind = "mfa", dgmmKind = "dgmm"

    public static func write(_ model: MixtureModel, metadata: [String: String], to path: String) throws {
        let (k, d, l) = (model.shape.components, model.shape.dimension, model.shape.latent)
        let precision = try model.precisionParameters()
        var meta = metadata
        meta["format"] = format
        meta["kind"] = mfaKind
        meta["components"] = String(k)
        meta["dimension"] = String(d)
        meta["latent"] = String(l)
        try Safetensors.write([
            "weights": Tensor(shape: [k], values: model.weights),
            "means": Tensor(shape: [k, d], values: model.means),
            "loadings": Tensor(shape: [k, d, l], values: model.loadings),
            "noise_variances": Tensor(shape: [k, d], values: model.noiseVariances),
            "precision_diag": Tensor(shape: [k, d], values: precision.precisionDiagonal),
            "precision_loadings": Tensor(shape: [k, d, l], values: precision.precisionLoadings),
        ], metadata: meta, to: path)
    }

    /// A DGMM: per layer i = 1…L `layers.i.weights` [G], `layers.i.means` [G, R_{i−1}],
    /// `layers.i.loadings` [G, R_{i−1}, R_i], `layers.i.noise_variances` [G, R_{i−1}] (DESIGN.md §5).
    public static func write(_ dgmm: DGMMModel, metadata: [String: String], to path: String) throws {
        let shape = dgmm.shape
        var meta = metadata
        meta["format"] = format
        meta["kind"] = dgmmKind
        meta["dimension"] = String(shape.dimension)
        meta["components"] = shape.components.map(String.init).joined(separator: ",")
        meta["latent"] = shape.latent.map(String.init).joined(separator: ",")
        var tensors = [String: Tensor]()
        for (i, layer) in dgmm.layers.enumerated() {
            let (g, n, r) = (shape.components[i], shape.inputDimension(layer: i), shape.latent[i])
            tensors["layers.\(i + 1).weights"] = Tensor(shape: [g], values: layer.weights)
            tensors["layers.\(i + 1).means"] = Tensor(shape: [g, n], values: layer.means)
            tensors["layers.\(i + 1).loadings"] = Tensor(shape: [g, n, r], values: layer.loadings)
            tensors["layers.\(i + 1).noise_variances"] = Tensor(shape: [g, n], values: layer.noiseVariances)
        }
        try Safetensors.write(tensors, metadata: meta, to: path)
    }

    /// Reads an MFA or a DGMM (the kind is in the metadata).
    public static func read(_ path: String) throws -> Contents {
        try parse(readFile(path), path: path)
    }

    /// The same from bytes already read (`path` names them in errors; the fuzzer's entry).
    public static func parse(_ bytes: [UInt8], path: String) throws -> Contents {
        let (tensors, metadata) = try Safetensors.parse(bytes, path: path)
        switch metadata["kind"] ?? mfaKind {
        case mfaKind: break
        case dgmmKind: return try readDGMM(tensors, metadata: metadata, path: path)
        case let kind: throw MFAError.malformedFile(path: path, reason: "holds a model of unknown kind '\(kind)'")
        }
        func tensor(_ name: String, rank: Int) throws -> Tensor {
            guard let tensor = tensors[name] else {
                throw MFAError.malformedFile(path: path, reason: "has no tensor '\(name)'")
            }
            guard tensor.shape.count == rank else {
                throw MFAError.malformedFile(path: path, reason: "tensor '\(name)' has shape \(tensor.shape), expected rank \(rank)")
            }
            return tensor
        }
        let weights = try tensor("weights", rank: 1), means = try tensor("means", rank: 2)
        let loadings = try tensor("loadings", rank: 3), noise = try tensor("noise_variances", rank: 2)
        let shape: MixtureShape
        do {
            shape = try MixtureShape(components: means.shape[0], dimension: means.shape[1], latent: loadings.shape[2])
        } catch {
            throw MFAError.malformedFile(path: path, reason: "\(error)")
        }
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        guard weights.shape == [k], loadings.shape == [k, d, l], noise.shape == [k, d] else {
            throw MFAError.malformedFile(path: path, reason: "tensor shapes disagree: weights \(weights.shape), means \(means.shape), loadings \(loadings.shape), noise_variances \(noise.shape)")
        }
        do {
            let model = try MixtureModel(shape: shape, weights: weights.values, means: means.values,
                                         loadings: loadings.values, noiseVariances: noise.values)
            return Contents(model: model, dgmm: nil, metadata: metadata)
        } catch let error as MFAError {
            throw MFAError.malformedFile(path: path, reason: error.description)
        }
    }

    private static func readDGMM(_ tensors: [String: Tensor], metadata: [String: String], path: String) throws -> Contents {
        do {
            var layers = [DGMMLayer](), components = [Int](), dimensions = [Int]()
            for i in 1... {
                guard let weights = tensors["layers.\(i).weights"] else { break }
                func tensor(_ name: String, rank: Int) throws -> Tensor {
                    guard let tensor = tensors["layers.\(i).\(name)"], tensor.shape.count == rank else {
                        throw MFAError.malformedFile(path: path, reason: "layer \(i) has no rank-\(rank) tensor 'layers.\(i).\(name)'")
                    }
                    return tensor
                }
                let means = try tensor("means", rank: 2), loadings = try tensor("loadings", rank: 3)
                let noise = try tensor("noise_variances", rank: 2)
                let g = weights.shape.first ?? 0
                guard weights.shape.count == 1, means.shape[0] == g, loadings.shape[0] == g, noise.shape == means.shape,
                      Array(loadings.shape[0...1]) == means.shape, dimensions.last.map({ $0 == means.shape[1] }) ?? true else {
                    throw MFAError.malformedFile(path: path, reason: "layer \(i) tensor shapes disagree: weights \(weights.shape), means \(means.shape), loadings \(loadings.shape), noise_variances \(noise.shape)")
                }
                if i == 1 { dimensions.append(means.shape[1]) }
                dimensions.append(loadings.shape[2])
                components.append(g)
                layers.append(DGMMLayer(weights: weights.values, means: means.values, loadings: loadings.values,
                                        noiseVariances: noise.values))
            }
            guard !layers.isEmpty else { throw MFAError.malformedFile(path: path, reason: "a 'dgmm' file with no 'layers.1.weights'") }
            let shape = try DGMMShape(dimension: dimensions[0], components: components, latent: Array(dimensions.dropFirst()))
            let dgmm = try DGMMModel(shape: shape, layers: layers)
            return Contents(model: try dgmm.pathMixture(), dgmm: dgmm, metadata: metadata)
        } catch let error as MFAError {
            if case .malformedFile = error { throw error }
            throw MFAError.malformedFile(path: path, reason: error.description)
        }
    }
}
