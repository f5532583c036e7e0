import Foundation
import MFA

/// Model files: safetensors with the covariance form (the canonical parameters), the precision
/// form beside it, and metadata (DESIGN.md §5). Written atomically.
public enum ModelFile {
    public static let format = "swift-mfa"

    public struct Contents: Sendable {
        public var model: MixtureModel
        /// Everything in `__metadata__`: format, kind, sizes, training options, image shape.
        public var metadata: [String: String]

        public var imageShape: ImageShape? { metadata["image_shape"].flatMap(ImageShape.init) }
    }

    public static func write(_ model: MixtureModel, metadata: [String: String], to path: String) throws {
        let (k, d, l) = (model.shape.components, model.shape.dimension, model.shape.latent)
        let precision = try model.precisionParameters()
        var meta = metadata
        meta["format"] = format
        meta["kind"] = "mfa"
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

    public static func read(_ path: String) throws -> Contents {
        let (tensors, metadata) = try Safetensors.read(path: path)
        if let kind = metadata["kind"], kind != "mfa" {
            throw MFAError.malformedFile(path: path, reason: "holds a '\(kind)' model; this command needs an 'mfa' model")
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
            return Contents(model: model, metadata: metadata)
        } catch let error as MFAError {
            throw MFAError.malformedFile(path: path, reason: error.description)
        }
    }
}
