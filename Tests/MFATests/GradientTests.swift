import Foundation
import MFA
import MFACPU
import Testing

@Suite struct GradientTests {
    static let shapes: [(k: Int, d: Int, l: Int)] = [(1, 4, 0), (3, 6, 0), (1, 5, 2), (3, 6, 2), (2, 7, 3)]

    /// Every component of the engine's gradient against central differences of the dense float64
    /// loss, at the canonical θ the engine holds (Γ rotated so that M_k is diagonal).
    @Test("Every gradient equals central finite differences of the loss", arguments: shapes.indices)
    func gradientMatchesFiniteDifferences(index: Int) throws {
        let (k, d, l) = Self.shapes[index]
        let shape = try MixtureShape(components: k, dimension: d, latent: l)
        let model = Fixtures.model(shape, seed: 7 + UInt64(index), loadingScale: 0.5)
        let data = Fixtures.data(rows: 24, columns: d, seed: 70 + UInt64(index))
        let engine = try model.engine(backend: CPUBackend(), batchSize: 24)
        try engine.loadBatch(data, rows: 0..<24)
        try engine.forward()
        let gradientBuffer = try engine.backward()
        let analytic = Array(UnsafeBufferPointer(start: gradientBuffer.pointer, count: engine.layout.count)).map(Double.init)

        let theta = Fixtures.readParameters(engine)
        let centred = (0..<data.rows).map { n in (0..<d).map { Double(data[n, $0]) - Double(engine.origin[$0]) } }
        let h = 1e-5
        var numeric = [Double]()
        for p in theta.indices {
            var plus = theta, minus = theta
            plus[p] += h
            minus[p] -= h
            numeric.append((Dense.loss(theta: plus, shape: shape, centredData: centred)
                            - Dense.loss(theta: minus, shape: shape, centredData: centred)) / (2 * h))
        }
        for (group, range) in engine.layout.groups {
            let a = Array(analytic[range]), b = Array(numeric[range])
            #expect(close(a, b, atol: 2e-3, rtol: 2e-3), "\(group): \(a) vs \(b)")
        }
    }
}
