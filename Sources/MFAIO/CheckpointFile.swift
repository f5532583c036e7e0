import MFA

/// SGD checkpoints as safetensors (written atomically, like models): θ and the optimizer moments
/// as float32 tensors, exact; the run's position in `__metadata__`, numbers written so that they
/// read back bit for bit.
public enum CheckpointFile {
    public static let kind = "sgd-checkpoint"

    public static func write(_ checkpoint: Checkpoint, to path: String) throws {
        var tensors = [
            "theta": Tensor(shape: [checkpoint.theta.count], values: checkpoint.theta),
            "first_moment": Tensor(shape: [checkpoint.firstMoment.count], values: checkpoint.firstMoment),
            "eigenvalues": Tensor(shape: [checkpoint.eigenvalues.count], values: checkpoint.eigenvalues),
        ]
        if !checkpoint.secondMoment.isEmpty {
            tensors["second_moment"] = Tensor(shape: [checkpoint.secondMoment.count], values: checkpoint.secondMoment)
        }
        let shape = checkpoint.shape
        try Safetensors.write(tensors, metadata: [
            "format": ModelFile.format, "kind": kind, "components": String(shape.components),
            "dimension": String(shape.dimension), "latent": String(shape.latent), "step": String(checkpoint.step),
            "epoch": String(checkpoint.epoch), "batch": String(checkpoint.batch),
            "random_state": checkpoint.loopRandomState.map(String.init).joined(separator: ","),
            "log_likelihood_sum": String(checkpoint.logLikelihoodSum.bitPattern), "clipped": String(checkpoint.clipped),
            "rows": String(checkpoint.rows), "scale": String(checkpoint.scale.bitPattern),
            "epochs": String(checkpoint.epochs), "batch_size": String(checkpoint.batchSize),
            "learning_rate_factor": String(checkpoint.learningRateFactor.bitPattern),
        ], to: path)
    }

    public static func read(_ path: String) throws -> Checkpoint {
        try parse(readFile(path), path: path)
    }

    /// The same from bytes already read (`path` names them in errors; the fuzzer's entry).
    public static func parse(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        let (tensors, metadata) = try Safetensors.parse(bytes, path: path)
        guard metadata["kind"] == kind else {
            throw MFAError.malformedFile(path: path, reason: "not an SGD checkpoint (kind \(metadata["kind"] ?? "missing"))")
        }
        func integer(_ key: String) throws -> Int {
            guard let value = metadata[key].flatMap({ Int($0) }) else {
                throw MFAError.malformedFile(path: path, reason: "checkpoint metadata '\(key)' is missing or not a number")
            }
            return value
        }
        func tensor(_ name: String) throws -> [Float] {
            guard let tensor = tensors[name] else { throw MFAError.malformedFile(path: path, reason: "checkpoint has no '\(name)'") }
            return tensor.values
        }
        let state = (metadata["random_state"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard let sum = metadata["log_likelihood_sum"].flatMap(UInt64.init), let scale = metadata["scale"].flatMap(UInt32.init),
              state.count == 4 else {
            throw MFAError.malformedFile(path: path, reason: "checkpoint metadata is incomplete")
        }
        let shape: MixtureShape
        do {
            shape = try MixtureShape(components: integer("components"), dimension: integer("dimension"), latent: integer("latent"))
        } catch let error as MFAError {
            throw MFAError.malformedFile(path: path, reason: error.description)
        }
        var checkpoint = Checkpoint(shape: shape, theta: try tensor("theta"), firstMoment: try tensor("first_moment"),
                          secondMoment: tensors["second_moment"]?.values ?? [], eigenvalues: try tensor("eigenvalues"),
                          step: try integer("step"), epoch: try integer("epoch"), batch: try integer("batch"),
                          loopRandomState: state, logLikelihoodSum: Double(bitPattern: sum), clipped: try integer("clipped"),
                          rows: try integer("rows"), scale: Float(bitPattern: scale), epochs: try integer("epochs"),
                          batchSize: try integer("batch_size"))
        if let factor = metadata["learning_rate_factor"].flatMap(UInt32.init) {
            checkpoint.learningRateFactor = Float(bitPattern: factor)
        }
        return checkpoint
    }
}
