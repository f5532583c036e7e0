import ArgumentParser
import Foundation
import MFA
import MFAIO

struct Outliers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "How well a model's log-likelihood tells outliers from inliers: AUROC, and the ROC curve.",
        discussion: "Outliers are flagged by a low log-likelihood. The AUROC is the probability that an inlier scores higher than an outlier, with ties counted as one half.")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    @Option(help: "Data that should be typical of the model (.npy, IDX or CSV).")
    var inliers: String

    @Option(help: "Data that should not be.")
    var outliers: String

    @Option(help: "Write the ROC curve as CSV: threshold on −log p(x), false positive rate, true positive rate (outliers positive).")
    var roc: String?

    @OptionGroup var backendOptions: BackendOptions

    @OptionGroup var csv: CSVArguments

    func run() throws {
        try FilePlan(inputs: ["MODEL": model, "--inliers": inliers, "--outliers": outliers], outputs: ["--roc": (roc, .text)]).check()
        let contents = try ModelFile.read(model)
        let d = contents.model.shape.dimension
        let inlierData = try openData(inliers, dimension: d, csv: csv), outlierData = try openData(outliers, dimension: d, csv: csv)
        let (inlierScores, outlierScores) = try score(contents.model, inlierData, outlierData, on: try backendOptions.make())
        // Outliers are the positives, ranked by −log p(x).
        let curve = try ROC(positives: outlierScores.map { -$0 }, negatives: inlierScores.map { -$0 })
        if let roc {
            let lines = ["threshold,false_positive_rate,true_positive_rate"]
                + curve.points.map { "\($0.threshold),\($0.falsePositiveRate),\($0.truePositiveRate)" }
            try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: roc)
        }
        say(String(format: "AUROC %.4f  (%d inliers, mean log-likelihood %.2f; %d outliers, mean %.2f)", curve.area,
                   inlierScores.count, inlierScores.reduce(0, +) / Double(inlierScores.count), outlierScores.count,
                   outlierScores.reduce(0, +) / Double(outlierScores.count)))
    }

    func score(_ model: MixtureModel, _ a: some SampleSource, _ b: some SampleSource, on backend: some Backend) throws -> ([Double], [Double]) {
        (try checkedScores(model, a, on: backend), try checkedScores(model, b, on: backend))
    }
}
