import CLAPACKE
import Foundation
import MFA
import Testing

@Suite struct ReconstructionTests {
    @Test("In-painting equals the dense conditional Gaussian formula, per component and over the mixture",
          arguments: [false, true])
    func matchesDenseConditional(mixture: Bool) throws {
        let shape = try MixtureShape(components: 3, dimension: 7, latent: 2)
        let model = Fixtures.model(shape, seed: 41)
        var random = RandomGenerator(seed: 42)
        let data = model.sample(count: 5, random: &random).samples
        let missing = (0..<(5 * 7)).map { ($0 * 7 + $0 / 7) % 3 == 0 }  // a different mask per row
        let filled = try model.reconstruct(data, missing: missing, mixture: mixture)
        for n in 0..<5 {
            let hidden = (0..<7).filter { missing[n * 7 + $0] }, observed = (0..<7).filter { !missing[n * 7 + $0] }
            var logScores = [Double](), fills = [[Double]]()
            for c in 0..<3 {
                let sigma = Dense.covariance(model, component: c)
                let mu = (0..<7).map { Double(model.means[c * 7 + $0]) }
                let soo = observed.flatMap { a in observed.map { b in sigma[a * 7 + b] } }
                let xo = observed.map { Double(data[n, $0]) }, muo = observed.map { mu[$0] }
                logScores.append(log(Double(model.weights[c])) + Dense.logNormal(xo, mean: muo, covariance: soo))
                let weights = solve(soo, zip(xo, muo).map { $0 - $1 }, observed.count)  // Σ_OO⁻¹ (x_O − μ_O)
                fills.append(hidden.map { u in mu[u] + zip(observed, weights).reduce(0.0) { $0 + sigma[u * 7 + $1.0] * $1.1 } })
            }
            let top = logScores.max()!
            let posterior = logScores.map { exp($0 - top) }, total = posterior.reduce(0, +)
            let best = logScores.indices.max { logScores[$0] < logScores[$1] }!
            let expected = hidden.indices.map { h in mixture ? (0..<3).reduce(0.0) { $0 + posterior[$1] / total * fills[$1][h] } : fills[best][h] }
            #expect(close(hidden.map { Double(filled[n, $0]) }, expected, atol: 1e-4, rtol: 1e-4), "row \(n)")
            #expect(observed.allSatisfy { filled[n, $0] == data[n, $0] })
        }
    }

    func solve(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var matrix = a, rhs = b
        var pivots = [lapack_int_t](repeating: 0, count: n)
        precondition(LAPACKE_dgesv(LAPACK_ROW_MAJOR, lapack_int_t(n), 1, &matrix, lapack_int_t(n), &pivots, &rhs, 1) == 0)
        return rhs
    }
}
