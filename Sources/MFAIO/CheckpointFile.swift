import MFA

/// Training checkpoints as safetensors (written atomically, like models): the strategy's arrays
/// as F32 or F64 tensors, exact; the run's position, identity and data fingerprint in
/// `__metadata__`, numbers written so that they read back bit for bit. The best restart finished
/// so far sits beside them as tensors named `best.*`. Checkpoints of the previous release (kind
/// "sgd-checkpoint") still load.
public enum CheckpointFile {
    public static let kind = "checkpoint"
    static let previousKind = "sgd-checkpoint"

    public static func write(_ checkpoint: TrainingCheckpoint, to path: String) throws {
        var (floats, doubles) = (checkpoint.state.floats, checkpoint.state.doubles)
        var metadata = [
            "format": ModelFile.format, "kind": kind, "algorithm": checkpoint.identity.algorithm,
            "backend": checkpoint.identity.backend, "restart": String(checkpoint.restart), "epoch": String(checkpoint.epoch),
            "batch": String(checkpoint.batch), "random_state": checkpoint.loopRandomState.map(String.init).joined(separator: ","),
            "log_likelihood_sum": String(checkpoint.logLikelihoodSum.bitPattern), "clipped": String(checkpoint.clipped),
            "data.rows": String(checkpoint.fingerprint.rows), "rollbacks": String(checkpoint.rollbacks),
            "epoch_rollbacks": String(checkpoint.epochRollbacks),
        ]
        if let columns = checkpoint.fingerprint.columns { metadata["data.columns"] = String(columns) }
        if let hash = checkpoint.fingerprint.hash { metadata["data.hash"] = String(hash) }
        if let previous = checkpoint.previousLogLikelihood { metadata["previous_log_likelihood"] = String(previous.bitPattern) }
        if let probe = checkpoint.probeLogLikelihood { metadata["probe_log_likelihood"] = String(probe.bitPattern) }
        if checkpoint.epochUndone > 0 { metadata["epoch_undone"] = String(checkpoint.epochUndone) }
        if let start = checkpoint.epochStart {
            metadata["epoch_start"] = "true"
            for (name, value) in start.integers { metadata["epoch_start.state.\(name)"] = String(value) }
            for (name, values) in start.floats { floats["epoch_start.\(name)"] = values }
            for (name, values) in start.doubles { doubles["epoch_start.\(name)"] = values }
        }
        for (name, value) in checkpoint.identity.settings { metadata["setting.\(name)"] = value }
        for (name, value) in checkpoint.state.integers { metadata["state.\(name)"] = String(value) }
        if let best = checkpoint.best {
            metadata["best.restart"] = String(best.restart)
            metadata["best.log_likelihood"] = String(best.logLikelihood.bitPattern)
            metadata["best.converged"] = String(best.converged)
            metadata["best.epochs"] = String(best.epochs)
            for (name, values) in best.result.floats { floats["best.\(name)"] = values }
            for (name, values) in best.result.doubles { doubles["best.\(name)"] = values }
        }
        try Safetensors.write(floats.mapValues { Tensor(shape: [$0.count], values: $0) },
                              float64: doubles.mapValues { Tensor64(shape: [$0.count], values: $0) },
                              metadata: metadata, to: path)
    }

    public static func read(_ path: String) throws -> TrainingCheckpoint {
        try parse(readFile(path), path: path)
    }

    /// The same from bytes already read (`path` names them in errors; the fuzzer's entry).
    public static func parse(_ bytes: [UInt8], path: String) throws -> TrainingCheckpoint {
        let file = try Safetensors.parseExact(bytes, path: path)
        switch file.metadata["kind"] {
        case kind: return try decode(file, path: path)
        case previousKind: return try decodePrevious(file, path: path)
        default:
            throw MFAError.malformedFile(path: path, reason: "not a training checkpoint (kind \(file.metadata["kind"] ?? "missing"))")
        }
    }

    static func decode(_ file: Safetensors.ExactFile, path: String) throws -> TrainingCheckpoint {
        let fields = MetadataFields(metadata: file.metadata, path: path)
        // Tensors named "best.*" are the best finished restart's, "epoch_start.*" the state the
        // epoch began with, the rest the strategy's state.
        var parts = ["": StrategyState(), "best.": StrategyState(), "epoch_start.": StrategyState()]
        func part(_ name: String) -> (prefix: String, name: String) {
            for prefix in ["best.", "epoch_start."] where name.hasPrefix(prefix) { return (prefix, String(name.dropFirst(prefix.count))) }
            return ("", name)
        }
        for (name, tensor) in file.float32 { let (prefix, key) = part(name); parts[prefix]!.floats[key] = tensor.values }
        for (name, tensor) in file.float64 { let (prefix, key) = part(name); parts[prefix]!.doubles[key] = tensor.values }
        var (state, best, epochStart) = (parts[""]!, parts["best."]!, parts["epoch_start."]!)
        var settings = [String: String]()
        for (key, value) in file.metadata {
            if key.hasPrefix("setting.") { settings[String(key.dropFirst(8))] = value }
            if key.hasPrefix("state.") { state.integers[String(key.dropFirst(6))] = try fields.integer(key) }
            if key.hasPrefix("epoch_start.state.") { epochStart.integers[String(key.dropFirst(18))] = try fields.integer(key) }
        }
        let finished = try file.metadata["best.restart"].map { _ in
            FinishedRestart(restart: try fields.integer("best.restart"), logLikelihood: try fields.double("best.log_likelihood"),
                            converged: file.metadata["best.converged"] == "true", epochs: try fields.integer("best.epochs"),
                            result: best)
        }
        return TrainingCheckpoint(
            identity: RunIdentity(algorithm: try fields.text("algorithm"), settings: settings, backend: file.metadata["backend"] ?? "unknown"),
            fingerprint: DataFingerprint(rows: try fields.integer("data.rows"), columns: file.metadata["data.columns"].flatMap { Int($0) },
                                         hash: file.metadata["data.hash"].flatMap { UInt64($0) }),
            restart: try fields.integer("restart"), epoch: try fields.integer("epoch"), batch: try fields.integer("batch"),
            loopRandomState: try fields.randomState(), logLikelihoodSum: try fields.double("log_likelihood_sum"),
            clipped: try fields.integer("clipped"),
            previousLogLikelihood: try file.metadata["previous_log_likelihood"].map { _ in try fields.double("previous_log_likelihood") },
            state: state, best: finished,
            // Absent in checkpoints written before roll-back counts were kept.
            rollbacks: try file.metadata["rollbacks"].map { _ in try fields.integer("rollbacks") } ?? 0,
            epochRollbacks: try file.metadata["epoch_rollbacks"].map { _ in try fields.integer("epoch_rollbacks") } ?? 0,
            epochUndone: try file.metadata["epoch_undone"].map { _ in try fields.integer("epoch_undone") } ?? 0,
            probeLogLikelihood: try file.metadata["probe_log_likelihood"].map { _ in try fields.double("probe_log_likelihood") },
            epochStart: file.metadata["epoch_start"] == "true" ? epochStart : nil)
    }

    /// An SGD checkpoint of the previous release: the same SGD state, with only the data's row count,
    /// the epochs and the batch size recorded to compare on resume.
    static func decodePrevious(_ file: Safetensors.ExactFile, path: String) throws -> TrainingCheckpoint {
        let fields = MetadataFields(metadata: file.metadata, path: path)
        var state = StrategyState(floats: file.float32.mapValues(\.values), integers: ["step": try fields.integer("step")])
        if let factor = file.metadata["learning_rate_factor"].flatMap(UInt32.init) { state.floats["learning_rate_factor"] = [Float(bitPattern: factor)] }
        return TrainingCheckpoint(
            identity: RunIdentity(algorithm: "sgd", settings: ["epochs": try fields.text("epochs"), "batch_size": try fields.text("batch_size"),
                                                               "components": try fields.text("components"), "latent": try fields.text("latent")],
                                  backend: "unknown"),
            fingerprint: DataFingerprint(rows: try fields.integer("rows"), columns: try fields.integer("dimension"), hash: nil),
            restart: 0, epoch: try fields.integer("epoch"), batch: try fields.integer("batch"), loopRandomState: try fields.randomState(),
            logLikelihoodSum: try fields.double("log_likelihood_sum"), clipped: try fields.integer("clipped"),
            previousLogLikelihood: nil, state: state, best: nil)
    }
}

/// Typed reads of a checkpoint's metadata, each failure one line naming the key.
struct MetadataFields {
    let metadata: [String: String]
    let path: String

    func text(_ key: String) throws -> String {
        guard let value = metadata[key] else { throw MFAError.malformedFile(path: path, reason: "checkpoint metadata '\(key)' is missing") }
        return value
    }

    func integer(_ key: String) throws -> Int {
        guard let value = Int(try text(key)) else {
            throw MFAError.malformedFile(path: path, reason: "checkpoint metadata '\(key)' is not a number")
        }
        return value
    }

    /// A float64 stored as its bit pattern.
    func double(_ key: String) throws -> Double {
        guard let bits = UInt64(try text(key)) else {
            throw MFAError.malformedFile(path: path, reason: "checkpoint metadata '\(key)' is not a number")
        }
        return Double(bitPattern: bits)
    }

    func randomState() throws -> [UInt64] {
        let state = try text("random_state").split(separator: ",").compactMap { UInt64($0) }
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw MFAError.malformedFile(path: path, reason: "checkpoint metadata 'random_state' is not four words")
        }
        return state
    }
}
