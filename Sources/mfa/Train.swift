import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a mixture of factor analysers: online EM (default), batch EM, or SGD in the precision form.",
        discussion: """
            DATA is a .npy (float32/float64/integer; uint8 pixels are scaled to [0,1]), an IDX file \
            (MNIST/Fashion-MNIST, gzipped or not) or a numeric CSV file, one sample per row. \
            The model is written atomically as safetensors in covariance form (weights, means, \
            loadings, noise_variances) plus the precision form, in the data's own units.
            """)

    @Argument(help: "Training data file.")
    var data: String

    @Option(name: [.short, .long], help: "K, the number of mixture components.")
    var components: Int

    @Option(name: [.short, .long], help: "l, the latent dimension of each factor analyser (0 ≤ l < d; 0 is a diagonal GMM).")
    var latent: Int

    @Option(name: [.short, .long], help: "Where to write the model (.safetensors).")
    var out: String

    @Option(help: "Validation data, scored after every epoch (EM: every iteration).")
    var validation: String?

    @Option(help: "Continue training this model (a warm start) instead of initialising; its K, l and d must match.")
    var from: String?

    @OptionGroup var checkpoints: CheckpointArguments

    @Option(help: "Write one row per epoch of the kept restart here (CSV: epoch,seconds,train_ll,validation_ll; seconds since the process started; with --validation, a row 0 for the start, train_ll empty).")
    var history: String?

    @Option(help: "Image shape HxW of each sample, for sample grids (default: from the data file, or a square d).")
    var shape: String?

    @OptionGroup var training: TrainingArguments

    @OptionGroup var csv: CSVArguments

    func validate() throws {
        if components < 1 { throw ValidationError("--components must be at least 1") }
        if latent < 0 { throw ValidationError("--latent must be at least 0") }
        if let shape, ImageShape(shape) == nil { throw ValidationError("--shape must look like 28x28") }
        if from != nil, training.optimiser.restarts != 1 { throw ValidationError("a warm start (--from) is one run: --restarts must be 1") }
        if from != nil, training.`init` != nil { throw ValidationError("--init has nothing to do with --from: the run starts from the model") }
    }

    func run() throws {
        try FilePlan(inputs: ["DATA": data, "--validation": validation, "--from": from, "--resume": checkpoints.resume],
                     outputs: ["--out": (out, .model), "--checkpoint": (checkpoints.checkpoint, .checkpoint),
                               "--history": (history, .text)],
                     inPlace: [("--from", "--out"), ("--resume", "--checkpoint")]).check()
        // .npy files are memory-mapped and streamed block by block; other formats are read whole.
        let (x, imageShape) = try DataFile.open(data, csv: csv.options())
        try requireTrainingMemory(components: components, dimension: x.columns, latent: latent, batchSize: training.options.batchSize, rows: x.rows,
                                  what: "K=\(components) l=\(latent) in d=\(x.columns)")
        let validationSet = try validation.map { try openData($0, dimension: x.columns, csv: csv) }
        let start = try from.map { path in
            let contents = try ModelFile.read(path)
            guard contents.dgmm == nil else { throw ValidationError("--from needs an MFA model; \(path) holds a DGMM") }
            return contents.model
        }
        let control = try checkpoints.control()
        let backend = try training.backendOptions.make()
        say("training K=\(components) l=\(latent) on \(x.rows) samples of d=\(x.columns) (\(data))")
        var last: EpochReport?
        var lastOfRestart = [Int: EpochReport]()  // the model's metadata takes the kept restart's
        // A resumed run keeps the history rows of the epochs before its checkpoint; a stopped run
        // writes what it has, so that the two together make one history.
        var epochs = TrainingHistory(continuing: history, from: control.resume)
        let (model, best) = try trainingCommand {
            do {
                return try training.train(x, components: components, latent: latent, validation: validationSet,
                                          from: start, control: control, on: backend) { report in
                    last = report
                    lastOfRestart[report.restart] = report
                    epochs.record(report)
                    say(progressLine(report, algorithm: training.algorithm))
                }
            } catch MFAError.interrupted(let message) {
                if let history, Launch.leads { try epochs.write(restart: last?.restart ?? control.resume?.restart ?? 0, to: history) }
                throw MFAError.interrupted(message)
            }
        }
        var record = training.record(data: data, rows: x.rows)
        record.seconds = last?.elapsedSeconds
        record.from = from
        record.validationLogLikelihood = lastOfRestart[best.restart]?.validationLogLikelihood
        record.trainLogLikelihood = best.logLikelihood
        record.bestRestart = best.restart
        var metadata = record.metadata
        if let image = shape.flatMap(ImageShape.init) ?? imageShape { metadata["image_shape"] = image.description }
        if training.optimiser.restarts > 1 {
            say(String(format: "kept restart %d of %d: train log-likelihood %.4f per sample", best.restart + 1,
                       training.optimiser.restarts, best.logLikelihood))
        }
        try Launch.leaderWrites {
            try ModelFile.write(model, metadata: metadata, to: out)
            if let history { try epochs.write(restart: best.restart, to: history) }
        }
        reportDegenerateComponents(model, floor: training.options.minVariance)
        if Launch.leads { warnIfImprecise(model, x, on: backend) }
        reportProfile(backend)
        say("wrote \(out) (\(model.shape), \(model.shape.freeParameterCount(noise: training.noise)) free parameters) in \(clockText(last?.elapsedSeconds ?? 0))")
    }
}

/// One line per epoch (SGD) or iteration (EM).
func progressLine(_ report: EpochReport, algorithm: Algorithm, clipping: Bool = true) -> String {
    var line = report.restarts > 1 ? "restart \(report.restart + 1)/\(report.restarts) " : ""
    if report.epoch == 0 {  // the start, scored on the validation data
        return line + String(format: "start  validation %.2f  after %@", report.validationLogLikelihood ?? .nan,
                             clockText(report.elapsedSeconds))
    }
    line += String(format: "%@ %d/%d  train %.2f", algorithm == .em ? "iteration" : "epoch", report.epoch, report.epochs,
                   report.trainLogLikelihood)
    if let v = report.validationLogLikelihood { line += String(format: "  validation %.2f", v) }
    line += String(format: "  %.0f samples/s", report.samplesPerSecond)
    if algorithm == .sgd, clipping { line += String(format: "  clipped %.1f%%", 100 * report.clippedFraction) }
    if report.reseeded > 0 { line += "  reseeded \(report.reseeded) dead" }
    if report.rollbacks > 0 {
        line += String(format: "  non-finite loss: rolled back ×%d, learning rate now ×%g", report.rollbacks, report.learningRateFactor)
    }
    if report.endsRestart {
        line += String(format: "  lowered the probe rows' likelihood: undone ×%d, at rates down to 1/%d of the epoch's: the restart ends with the model this epoch began with",
                       report.undone, 1 << TrainingLoop.maximumUndos)
    } else if report.undone > 0 {
        line += String(format: "  lowered the probe rows' likelihood: undone ×%d, learning rate now ×%g", report.undone,
                       report.learningRateFactor)
    }
    return line + "  ETA \(clockText(report.remainingSeconds))"
}

/// Says on stderr which components training starved or pinned to the variance floor.
func reportDegenerateComponents(_ model: MixtureModel, floor minVariance: Double) {
    let (k, d) = (model.shape.components, model.shape.dimension)
    let dead = (0..<k).filter { model.weights[$0] < 0.1 / Float(k) }
    let floor = Float(minVariance)
    let atFloor = model.noiseVariances.filter { $0 <= floor * 1.0001 }.count
    if !dead.isEmpty {
        printError("note: \(dead.count) of \(k) components \(dead.count == 1 ? "has" : "have") weight < 0.1/K (components \(dead.prefix(10).map(String.init).joined(separator: ", "))\(dead.count > 10 ? ", …" : ""))")
    }
    if atFloor > k * d / 10 {
        printError(String(format: "note: %.0f%% of the noise variances sit at the floor --min-variance %g (near-constant coordinates)", 100 * Double(atFloor) / Double(k * d), minVariance))
    }
}
