import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Select: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Model selection: train a grid of (K, l), print a table, write the best model.",
        discussion: "Parameter counts are the free parameters of the covariance form: K−1 weights, K·d means, the noise (K·d diagonal, K isotropic, d shared) and K(d·l − l(l−1)/2) loadings, less their rotational freedom. The grid trains one model after another: the backends already use every core.")

    @Argument(help: "Training data file.")
    var data: String

    @Option(name: [.short, .long], help: "Values of K to try, comma-separated (e.g. 10,20,50).")
    var components: String

    @Option(name: [.short, .long], help: "Values of l to try, comma-separated (e.g. 0,5,10).")
    var latent: String

    @Option(name: [.short, .long], help: "Where to write the best model (.safetensors).")
    var out: String

    @Option(help: "bic (the default; lowest wins), aic (lowest wins) or validation (highest validation log-likelihood wins).")
    var criterion: SelectionCriterion = .bic

    @Option(help: "Validation data (needed by --criterion validation; reported otherwise).")
    var validation: String?

    @OptionGroup var training: TrainingArguments

    @OptionGroup var csv: CSVArguments

    func validate() throws {
        if criterion == .validation, validation == nil { throw ValidationError("--criterion validation needs --validation data") }
    }

    func values(_ text: String, name: String) throws -> [Int] {
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--\(name) must be comma-separated whole numbers, e.g. 10,20,50")
        }
        return values.map { $0! }
    }

    func run() throws {
        try FilePlan(inputs: ["DATA": data, "--validation": validation], outputs: ["--out": (out, .model)]).check()
        let ks = try values(components, name: "components"), ls = try values(latent, name: "latent")
        guard Set(ks).count == ks.count, Set(ls).count == ls.count else {
            throw ValidationError("--components and --latent must not repeat a value")
        }
        let grid = ks.flatMap { k in ls.map { (k, $0) } }
        let x = try loadData(data, csv: csv.options()).samples
        for (k, l) in grid {
            // Every grid point is checked before the first trains.
            guard l < x.columns else { throw ValidationError("--latent \(l) must be below d = \(x.columns)") }
            guard k >= 1, k <= x.rows else { throw ValidationError("--components \(k) must lie in 1…\(x.rows), the number of samples") }
            try requireTrainingMemory(components: k, dimension: x.columns, latent: l, batchSize: training.options.batchSize, rows: x.rows,
                                      what: "K=\(k) l=\(l) in d=\(x.columns)")
        }
        let validationSet = try validation.map { try loadData($0, dimension: x.columns, csv: csv.options()).samples }
        let backend = try training.backendOptions.make()
        // SIGINT or SIGTERM stops the cell in training after its batch; nothing is written (select keeps no checkpoints).
        Interruption.install()
        let (rows, best) = try trainingCommand { try select(x, grid: grid, validation: validationSet, on: backend) }
        var record = training.record(data: data, rows: x.rows)
        record.extra["selection.criterion"] = criterion.rawValue
        try Launch.leaderWrites { try ModelFile.write(rows[best].model, metadata: record.metadata, to: out) }
        if Launch.leads { warnIfImprecise(rows[best].model, x, on: backend) }
        say("best by \(criterion.rawValue): K=\(rows[best].shape.components) l=\(rows[best].shape.latent); wrote \(out)")
    }

    func select(_ x: Matrix, grid: [(Int, Int)], validation: Matrix?, on backend: some Backend) throws -> ([SelectionRow], Int) {
        say("|   K |   l | parameters | log-likelihood |            BIC |            AIC | validation LL | seconds |")
        say("|----:|----:|-----------:|---------------:|---------------:|---------------:|--------------:|--------:|")
        return try ModelSelection.run(
            x, grid: grid.map { (components: $0.0, latent: $0.1) }, validation: validation, criterion: criterion,
            noise: training.noise,
            train: { try training.train(x, components: $0, latent: $1, validation: nil, from: nil,
                                        control: TrainingControl(stopRequest: { interruptSignal.load(ordering: .relaxed) },
                                                                 stopAgreed: Interruption.agree, note: { printError("note: \($0)") },
                                                                 reducer: Launch.reducer), on: backend) { _ in }.model },
            score: { try $0.engine(backend: backend).meanLogLikelihood($1) },
            report: { row in
                say(String(format: "| %3d | %3d | %10d | %14.1f | %14.1f | %14.1f | %13@ | %7.1f |", row.shape.components,
                           row.shape.latent, row.parameters, row.logLikelihood, row.bic, row.aic,
                           row.validationLogLikelihood.map { String(format: "%.2f", $0) } ?? "–", row.seconds))
            })
    }
}
