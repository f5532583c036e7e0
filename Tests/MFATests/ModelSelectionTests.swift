import Foundation
import MFA
import MFACPU
import Testing

@Suite struct ModelSelectionTests {
    @Test("BIC picks the true (K, l) of data drawn from a known MFA")
    func bicPicksTruth() throws {
        let shape = try MixtureShape(components: 3, dimension: 8, latent: 2)
        let data = Fixtures.drawn(shape, modelSeed: 51, dataSeed: 52, count: 3000).data
        var options = TrainingOptions()
        options.initialisation = .kmeansPlusPlus
        options.batchSize = 1000
        options.tolerance = 1e-4
        let backend = CPUBackend()
        let grid = [2, 3, 4].flatMap { k in [1, 2, 3].map { (components: k, latent: $0) } }
        let (rows, best) = try ModelSelection.run(
            data, grid: grid, validation: nil, criterion: .bic, noise: .diagonal,
            train: { try EMTrainer(backend: backend, options: options).train(data, components: $0, latent: $1).model },
            score: { try $0.engine(backend: backend).meanLogLikelihood($1) })
        #expect(rows.count == 9)
        #expect(rows[best].shape == shape, "picked \(rows[best].shape)")
        #expect(rows.allSatisfy { $0.parameters == $0.shape.freeParameterCount })
    }

    @Test("The validation criterion needs validation data")
    func validationNeedsData() throws {
        let data = Fixtures.data(rows: 20, columns: 3, seed: 1)
        #expect(throws: MFAError.self) {
            _ = try ModelSelection.run(data, grid: [(1, 1)], validation: nil, criterion: .validation, noise: .diagonal,
                                       train: { _, _ in Issue.record("trained"); throw MFAError.invalidArgument("") },
                                       score: { _, _ in 0 })
        }
    }
}
