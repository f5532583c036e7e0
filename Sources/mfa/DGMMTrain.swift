import ArgumentParser
import Foundation
import MFA
import MFAIO

/// "3,3,2": one positive integer per DGMM layer, layer 1 first.
struct LayerSizes: ExpressibleByArgument {
    var values: [Int]

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        values = parts.map { $0! }
    }
}

struct DGMMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dgmm",
        abstract: "Deep Gaussian mixtures: stacked MFA layers trained jointly by gradient descent on the exact marginal.",
        subcommands: [DGMMTrain.self])
}

struct DGMMTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a deep Gaussian mixture (DGMM) by gradient descent through all paths.",
        discussion: """
            The marginal of x is a Gaussian mixture over all paths through the layers (one component \
            per layer), each path's covariance low rank plus diagonal (DESIGN.md §3). Training composes \
            the paths into a mixture of factor analysers every step, runs the MFA engine's forward and \
            backward passes on the batch, and chains the gradients back to every layer: no latent \
            scores are sampled. Data are standardised internally; the model file describes the data \
            as given (tensors layers.i.weights, .means, .loadings, .noise_variances for i = 1…L).
            """)

    @Argument(help: "Training data file (.npy, IDX or CSV), one sample per row.")
    var data: String

    @Option(name: [.short, .long], help: "Components per layer, layer 1 (the one that emits x) first, e.g. 3,3,2.")
    var components: LayerSizes

    @Option(name: [.short, .long], help: "Latent dimension per layer, strictly decreasing and below d, e.g. 11,6,2.")
    var latent: LayerSizes

    @Option(name: [.short, .long], help: "Where to write the model (.safetensors).")
    var out: String

    @Option(help: "Validation data, scored after every epoch.")
    var validation: String?

    @Option(help: "Continue training this DGMM (a warm start, one run) instead of initialising; its shape must match.")
    var from: String?

    @OptionGroup var optimiser: OptimiserArguments

    @Option(help: "Layer 1's means at start: kmeans++ (k-means++ and 5 Lloyd iterations on ≤10,000 rows with every column standardised; each restart draws its own; the default) or random (at random samples, the DGMM paper's).")
    var `init`: DGMMInit?

    @Option(help: "Deterministic annealing: responsibilities are tempered as (π_k N_k)^(1/T), T falling geometrically from this value to 1 over the first --anneal-fraction of the steps. 1 turns it off. Default: 4, or 1 with --from (a warm start keeps its model).")
    var temperature: Double?

    @Option(help: "The share of the steps over which the temperature falls to 1.")
    var annealFraction = 1.0 / 3

    @Option(name: .customLong("em-epochs"), help: "How many of the last --epochs are exact EM iterations (every layer's M-step after a whole pass) instead of gradient steps (default: two thirds of --epochs, rounded down).")
    var emEpochsOption: Int?

    /// Two thirds by default: the EM epochs converge where Adam's steps stall, and realign (README,
    /// "The DGMM on data shaped like its authors'").
    var emEpochs: Int { emEpochsOption ?? options.epochs * 2 / 3 }

    @Flag(inversion: .prefixedNo, help: "Whether converged exact EM epochs try re-pairing each layer-1 component's clusters with the deeper layers' paths as a reference component pairs them, keeping the result only if EM then climbs above the model it replaced (README, \"The DGMM on data shaped like its authors'\").")
    var realign = true

    @OptionGroup var checkpoints: CheckpointArguments

    @OptionGroup var backendOptions: BackendOptions

    @OptionGroup var csv: CSVArguments

    var restarts: Int { optimiser.restarts }

    func validate() throws {
        if from != nil, restarts != 1 { throw ValidationError("a warm start (--from) is one run: --restarts must be 1") }
        if from != nil, `init` != nil { throw ValidationError("--init has nothing to do with --from: the run starts from the model") }
        if let temperature, !(temperature >= 1 && temperature.isFinite) { throw ValidationError("--temperature must be at least 1 (got \(temperature))") }
        if emEpochs < 0 || emEpochs > options.epochs { throw ValidationError("--em-epochs must lie between 0 and --epochs (\(options.epochs))") }
        if !(0...1).contains(annealFraction) { throw ValidationError("--anneal-fraction must lie in [0, 1] (got \(annealFraction))") }
        if components.values.count != latent.values.count {
            throw ValidationError("--components gives \(components.values.count) layers, --latent \(latent.values.count); give one of each per layer")
        }
    }

    var options: TrainingOptions {
        var options = optimiser.options(defaultEpochs: 600)
        // k-means++ by default: with every column whitened it finds layer 1's components where
        // random starts lose some (README, "The paper's experiment shape").
        options.initialisation = (`init` ?? .kmeansPlusPlus).initialisation
        return options
    }

    var initialTemperature: Double { temperature ?? (from == nil ? 4 : 1) }

    func run() throws {
        try FilePlan(inputs: ["DATA": data, "--validation": validation, "--from": from, "--resume": checkpoints.resume],
                     outputs: ["--out": (out, .model), "--checkpoint": (checkpoints.checkpoint, .checkpoint)],
                     inPlace: [("--from", "--out"), ("--resume", "--checkpoint")]).check()
        let x = try DataFile.open(data, csv: csv.options()).samples
        let shape = try DGMMShape(dimension: x.columns, components: components.values, latent: latent.values)
        try requireTrainingMemory(components: shape.pathCount, dimension: x.columns, latent: shape.latent[0],
                                  batchSize: options.batchSize, rows: x.rows, what: "a DGMM of \(shape.pathCount) paths in d=\(x.columns)")
        let validationSet = try validation.map { try openData($0, dimension: x.columns, csv: csv) }
        say("training a DGMM (\(shape), \(shape.pathCount) paths) on \(x.rows) samples (\(data)), \(restarts) restart\(restarts == 1 ? "" : "s")")
        let start = try from.map { path in
            guard let dgmm = try ModelFile.read(path).dgmm else { throw ValidationError("--from needs a DGMM model; \(path) holds an MFA") }
            return dgmm
        }
        let control = try checkpoints.control()
        let backend = try backendOptions.make()
        let best = try trainingCommand { try fit(x, shape: shape, validation: validationSet, from: start, control: control, on: backend) }
        let n = Double(x.rows), p = Double(shape.freeParameterCount)
        let bic = -2 * n * best.logLikelihood + p * Foundation.log(n)
        var record = TrainingRecord(algorithm: emEpochs > 0 ? "dgmm-gradient-em" : "dgmm-gradient", options: options,
                                    backend: backendOptions.backend.rawValue, data: data)
        record.extra["em_epochs"] = String(emEpochs)
        record.extra["realign"] = String(realign)
        record.annealing = annealing
        record.from = from
        record.bestRestart = best.restart
        record.seconds = best.seconds
        record.trainLogLikelihood = best.logLikelihood
        record.extra["bic"] = String(bic)
        try Launch.leaderWrites { try ModelFile.write(best.model, metadata: record.metadata, to: out) }
        if Launch.leads, let paths = try? best.model.pathMixture() { warnIfImprecise(paths, x, on: backend, scoredExactly: true) }
        reportProfile(backend)
        say(String(format: "best: restart %d, train log-likelihood %.4f per sample, BIC %.1f (%d free parameters)",
                   best.restart + 1, best.logLikelihood, bic, shape.freeParameterCount))
        if emEpochs > 0, realign { say("realignments of layer 1's components: kept \(best.realignments.kept) of \(best.realignments.tried) tried, over all restarts") }
        say(String(format: "%.1f s of training, %.1f s of it in the backend's batch passes, the rest host work on the layers",
                   best.seconds, best.engineSeconds))
        say("wrote \(out)")
    }

    var annealing: Annealing { Annealing(initialTemperature: initialTemperature, fraction: annealFraction) }

    func fit(_ x: some SampleSource, shape: DGMMShape, validation: (any SampleSource)?, from start: DGMMModel?,
             control: TrainingControl, on backend: some Backend) throws -> DGMMFit {
        try DGMMTrainer(backend: backend, options: options, annealing: annealing, exactEpochs: emEpochs, realigns: realign).train(
            x, shape: shape, validation: validation, from: start, control: control,
            progress: { report in
                say(progressLine(report, algorithm: .sgd, clipping: false))
            },
            failed: { restart, error in printError("restart \(restart + 1) failed: \(error)") })
    }
}

/// `dgmm train --init`.
enum DGMMInit: String, ExpressibleByArgument, CaseIterable {
    case kmeansPlusPlus = "kmeans++"
    case random

    var initialisation: TrainingOptions.Initialisation { self == .random ? .random : .kmeansPlusPlus }
}
