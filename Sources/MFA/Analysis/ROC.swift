/// The receiver operating characteristic of a score that should rank positives above negatives.
public struct ROC: Sendable {
    /// P(score(positive) > score(negative)) + ½ P(tie): the Mann–Whitney statistic.
    public let area: Double
    /// (threshold, false positive rate, true positive rate) for "positive when score ≥ threshold",
    /// one point per distinct score, from the highest threshold down, after (∞, 0, 0).
    public let points: [(threshold: Double, falsePositiveRate: Double, truePositiveRate: Double)]

    public init(positives: [Double], negatives: [Double]) throws {
        guard !positives.isEmpty, !negatives.isEmpty else {
            throw MFAError.invalidArgument("an ROC needs at least one positive and one negative sample")
        }
        let labelled = (positives.map { ($0, true) } + negatives.map { ($0, false) }).sorted { $0.0 > $1.0 }
        var points = [(threshold: Double.infinity, falsePositiveRate: 0.0, truePositiveRate: 0.0)]
        var (truePositives, falsePositives, area) = (0.0, 0.0, 0.0)
        var index = 0
        while index < labelled.count {
            // All samples tied at this score move together: a diagonal step, which counts ties as ½.
            let threshold = labelled[index].0
            var (newPositives, newNegatives) = (0.0, 0.0)
            while index < labelled.count, labelled[index].0 == threshold {
                if labelled[index].1 { newPositives += 1 } else { newNegatives += 1 }
                index += 1
            }
            area += newNegatives * (truePositives + newPositives / 2)
            truePositives += newPositives
            falsePositives += newNegatives
            points.append((threshold, falsePositives / Double(negatives.count), truePositives / Double(positives.count)))
        }
        self.area = area / (Double(positives.count) * Double(negatives.count))
        self.points = points
    }
}
