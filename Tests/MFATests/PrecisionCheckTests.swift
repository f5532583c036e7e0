import Foundation
import MFA
import MFACPU
import Testing

/// The float64 reference that keeps float32 range problems from passing silently.
@Suite struct PrecisionCheckTests {
    /// Two tight clusters 10⁴ apart (spread 0.1): float32's expanded quadratic loses every digit.
    func farClusters() throws -> (model: MixtureModel, data: Matrix) {
        let shape = try MixtureShape(components: 2, dimension: 4, latent: 1)
        var random = RandomGenerator(seed: 8)
        let model = try MixtureModel(shape: shape, weights: [0.4, 0.6], means: [0, 0, 0, 0, 1e4, 1e4, 1e4, 1e4],
                                     loadings: (0..<8).map { _ in Float(0.2 * random.normal()) },
                                     noiseVariances: [Float](repeating: 0.01, count: 8))
        return (model, model.sample(count: 500, random: &random).samples)
    }

    @Test("Float64 log-densities and responsibilities equal dense algebra, on ordinary models and on far, tight clusters")
    func preciseEqualsDense() throws {
        let ordinary = Fixtures.model(try MixtureShape(components: 3, dimension: 6, latent: 2), seed: 4)
        let far = try farClusters()
        for (model, data) in [(ordinary, Fixtures.data(rows: 50, columns: 6, seed: 5)), (far.model, far.data)] {
            let precise = try PreciseLogDensity(model), rows = Array(0..<data.rows)
            let dense = Dense.evaluate(model, data)
            #expect(close(try precise.logDensities(data, rows: rows), dense.logDensity, atol: 1e-8, rtol: 1e-10))
            #expect(close(try precise.responsibilities(data, rows: rows), dense.responsibilities.flatMap { $0 }, atol: 1e-10, rtol: 1e-8))
        }
    }

    @Test("Float64 log-densities of more rows than one block (4,096), in an order of their own, are each row's own")
    func preciseAcrossBlocks() throws {
        let model = Fixtures.model(try MixtureShape(components: 2, dimension: 3, latent: 1), seed: 3)
        let data = Fixtures.data(rows: 5000, columns: 3, seed: 4)
        let precise = try PreciseLogDensity(model), rows = (0..<5000).map { ($0 * 7919) % 5000 }
        let all = try precise.logDensities(data, rows: rows)
        let one = try rows.map { try precise.logDensities(data, rows: [$0])[0] }
        #expect(all == one)
    }

    @Test("Columns 10⁴ standard deviations or more from zero get a note; ordinary ones none")
    func storageNote() {
        #expect(Standardisation.storageNote((mean: [1, -3, 100], variance: [1, 4, 0.5])) == nil)
        let note = Standardisation.storageNote((mean: [1, 2e6, -5e5], variance: [1, 1, 4]))
        #expect(note?.hasPrefix("2 columns (the worst: column 1,") == true, "\(note ?? "nil")")
    }

    @Test("Training's moments are every row's without gross outliers (bit for bit), and the bulk's with them")
    func trainingMomentsLeaveOutFarRows() throws {
        let data = Fixtures.data(rows: 400, columns: 3, seed: 6)
        let (plain, none, _) = try Standardisation.trainingMoments(data)
        let all = try data.columnMoments()
        #expect(none == 0 && plain.mean == all.mean && plain.variance == all.variance)
        var values = data.values
        values += [1e7, 0, 0, 0, -1e6, 0]
        let far = try Matrix(rows: 402, columns: 3, values: values)
        let (bulk, outliers, farthest) = try Standardisation.trainingMoments(far)
        #expect(outliers == 2 && farthest == 400)
        #expect(close(bulk.mean, all.mean, atol: 1e-9, rtol: 1e-9) && close(bulk.variance, all.variance, atol: 1e-9, rtol: 1e-9))
        #expect(try far.columnMoments().variance[0] > 1e10)
    }

    @Test("The check passes float32 on ordinary data and fails it on far, tight clusters")
    func checkSeesTheRange() throws {
        let ordinary = Fixtures.model(try MixtureShape(components: 3, dimension: 6, latent: 2), seed: 4)
        let passed = try PrecisionCheck(ordinary, data: Fixtures.data(rows: 300, columns: 6, seed: 5), backend: CPUBackend())
        #expect(passed.passes && passed.maximum < 1e-3 && passed.rows == 256)
        let far = try farClusters()
        let failed = try PrecisionCheck(far.model, data: far.data, backend: CPUBackend())
        #expect(!failed.passes, "float32 was within \(failed.maximum) nats")
    }

    @Test("A noise variance at a floor of 1e-12 under large loadings (I + ΛᵀΨ⁻¹Λ near 1e30) still gets finite float64 log-densities")
    func extremeModelsScore() throws {
        let shape = try MixtureShape(components: 1, dimension: 3, latent: 2)
        let model = try MixtureModel(shape: shape, weights: [1], means: [0, 0, 0], loadings: [1e3, 2e3, -1e3, -2e3, 5e2, 1e3],  // collinear columns: Cholesky of A fails on round-off
                                     noiseVariances: [1e-12, 1e-12, 1e-12])
        let data = try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 0, 0, 0])
        let values = try PreciseLogDensity(model).logDensities(data, rows: [0, 1])
        #expect(values.allSatisfy { $0.isFinite }, "\(values)")
    }
}
