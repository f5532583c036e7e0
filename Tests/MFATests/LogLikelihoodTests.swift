import Foundation
import MFA
import MFACPU
import Testing

@Suite struct LogLikelihoodTests {
    static let shapes: [(k: Int, d: Int, l: Int)] = [(1, 5, 0), (3, 8, 0), (1, 6, 2), (4, 10, 3), (5, 20, 4), (2, 12, 1)]

    @Test("Woodbury log-likelihoods equal dense float64 algebra", arguments: shapes.indices)
    func logLikelihoodMatchesDense(index: Int) throws {
        let (k, d, l) = Self.shapes[index]
        let model = Fixtures.model(try MixtureShape(components: k, dimension: d, latent: l), seed: UInt64(index))
        let data = Fixtures.data(rows: 37, columns: d, seed: 100 + UInt64(index))
        let engine = try model.engine(backend: CPUBackend(), batchSize: 16)  // several batches, the last partial
        let (logDensity, responsibilities) = try engine.evaluate(data, keepResponsibilities: true)
        let reference = Dense.evaluate(model, data)
        #expect(close(logDensity, reference.logDensity, atol: 2e-3, rtol: 2e-5))
        #expect(close(responsibilities!.map(Double.init), reference.responsibilities.flatMap { $0 }, atol: 1e-4, rtol: 1e-3))
    }

    @Test("A model whose M_k is not positive definite is rejected, not evaluated")
    func indefiniteModelIsRejected() throws {
        let shape = try MixtureShape(components: 1, dimension: 4, latent: 1)
        let bad = PrecisionParameters(shape: shape, weights: [1], means: [0, 0, 0, 0],
                                      precisionDiagonal: [1, 1, 1, 1], precisionLoadings: [1, 1, 1, 1])
        let engine = try MixtureEngine(backend: CPUBackend(), shape: shape, capacity: 4, origin: [0, 0, 0, 0])
        #expect(throws: MFAError.self) { try engine.load(bad) }
    }
}
