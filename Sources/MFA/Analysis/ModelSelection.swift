import Foundation

/// What `ModelSelection` minimises or maximises.
public enum SelectionCriterion: String, Sendable, CaseIterable {
    /// −2 log L + p log N, the smallest wins (mclust's choice, up to sign).
    case bic
    /// −2 log L + 2p, the smallest wins.
    case aic
    /// Mean log-likelihood on validation data, the largest wins.
    case validation
}

/// One fitted model of the grid and its figures.
public struct SelectionRow: Sendable {
    public let shape: MixtureShape
    public let parameters: Int
    /// Total log-likelihood of the training data.
    public let logLikelihood: Double
    public let bic: Double
    public let aic: Double
    public let validationLogLikelihood: Double?
    public let seconds: Double
    public let model: MixtureModel
}

/// Trains every (K, l) of a grid and picks the best by a criterion.
public enum ModelSelection {
    /// `train` fits one (K, l); `score` is the mean log-likelihood of a model on data. Returns the
    /// rows in grid order and the index of the best.
    public static func run(_ data: Matrix, grid: [(components: Int, latent: Int)], validation: Matrix?,
                           criterion: SelectionCriterion, noise: NoiseStructure,
                           train: (Int, Int) throws -> MixtureModel,
                           score: (MixtureModel, Matrix) throws -> Double,
                           report: (SelectionRow) -> Void = { _ in }) throws -> (rows: [SelectionRow], best: Int) {
        guard !grid.isEmpty else { throw MFAError.invalidArgument("the grid of (K, l) is empty") }
        if criterion == .validation, validation == nil {
            throw MFAError.invalidArgument("the validation criterion needs validation data")
        }
        let clock = ContinuousClock()
        var rows = [SelectionRow]()
        for (components, latent) in grid {
            let began = clock.now
            let model = try train(components, latent)
            let seconds = MFA.seconds(clock.now - began)
            let logLikelihood = try score(model, data) * Double(data.rows)
            let p = model.shape.freeParameterCount(noise: noise)
            let row = SelectionRow(
                shape: model.shape, parameters: p, logLikelihood: logLikelihood,
                bic: -2 * logLikelihood + Double(p) * Foundation.log(Double(data.rows)),
                aic: -2 * logLikelihood + 2 * Double(p),
                validationLogLikelihood: try validation.map { try score(model, $0) }, seconds: seconds, model: model)
            report(row)
            rows.append(row)
        }
        let value: (SelectionRow) -> Double = switch criterion {
        case .bic: { $0.bic }
        case .aic: { $0.aic }
        case .validation: { -($0.validationLogLikelihood ?? .infinity) }
        }
        let best = rows.indices.min { value(rows[$0]) < value(rows[$1]) }!
        return (rows, best)
    }
}
