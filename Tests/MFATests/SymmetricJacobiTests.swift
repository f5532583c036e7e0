import Foundation
import MFA
import Testing

/// The projection's shared eigensolver against LAPACK (dsyevd) and its own contract.
@Suite struct SymmetricJacobiTests {
    func randomSymmetric(_ n: Int, seed: UInt64, spread: Double) -> [Double] {
        var random = RandomGenerator(seed: seed)
        var a = [Double](repeating: 0, count: n * n)
        for p in 0..<n {
            for q in p..<n {
                let value = random.normal() * (p == q ? spread : 1)
                a[p * n + q] = value
                a[q * n + p] = value
            }
        }
        return a
    }

    @Test("Eigenvalues equal LAPACK's; V is orthonormal with A = V diag(λ) Vᵀ, largest entries positive",
          arguments: [1, 2, 3, 10, 20, 64])
    func matchesLAPACK(order n: Int) throws {
        for seed in UInt64(1)...3 {
            let a = randomSymmetric(n, seed: seed, spread: Double(seed))
            let (values, vectors) = SymmetricJacobi.eigen(a, order: n)
            let reference = try SmallLinearAlgebra.symmetricEigen(a, order: n).values
            let size = a.map(abs).max()!
            for i in 0..<n { #expect(abs(values[i] - reference[i]) < 1e-12 * size * Double(n), "λ\(i): \(values[i]) vs \(reference[i])") }
            for p in 0..<n {
                for q in 0..<n {
                    var gram = 0.0, rebuilt = 0.0
                    for r in 0..<n { gram += vectors[r * n + p] * vectors[r * n + q] }
                    for i in 0..<n { rebuilt += vectors[p * n + i] * values[i] * vectors[q * n + i] }
                    #expect(abs(gram - (p == q ? 1 : 0)) < 1e-12 * Double(n))
                    // Pairs within the tolerance are left: A is rebuilt to tolerance·‖A‖, not to round-off.
                    #expect(abs(rebuilt - a[p * n + q]) < SymmetricJacobi.tolerance * size * Double(n))
                }
            }
            for i in 0..<n {
                let column = (0..<n).map { vectors[$0 * n + i] }
                let largest = column.indices.max { abs(column[$0]) < abs(column[$1]) || (abs(column[$0]) == abs(column[$1]) && $0 > $1) }!
                #expect(column[largest] > 0)
            }
        }
    }

    @Test("Every off-diagonal entry left is within the tolerance of its diagonal pair, on graded matrices too",
          arguments: [2, 10, 20])
    func convergedWithinTolerance(order n: Int) {
        for seed in UInt64(1)...3 {
            var a = randomSymmetric(n, seed: seed, spread: 1)
            // Graded like M_k with λ from 10⁻⁷ to 1: rows and columns scaled by 10^(−7i/(2(n−1))).
            let scale = (0..<n).map { Foundation.pow(10, -3.5 * Double($0) / Double(max(n - 1, 1))) }
            for p in 0..<n { for q in 0..<n { a[p * n + q] *= scale[p] * scale[q] } }
            _ = SymmetricJacobi.diagonalise(&a, order: n)
            for p in 0..<n {
                for q in (p + 1)..<n {
                    let bound = SymmetricJacobi.tolerance * abs(a[p * n + p] * a[q * n + q]).squareRoot()
                    #expect(abs(a[p * n + q]) <= bound, "a[\(p),\(q)] = \(a[p * n + q]) against \(bound)")
                }
            }
        }
    }

    @Test("The round-robin schedule meets every pair once a sweep, in rounds of disjoint pairs", arguments: Array(0...13))
    func schedule(order n: Int) {
        var met = Set<Int>()
        for round in 0..<max(n + (n & 1) - 1, 0) {
            var used = Set<Int>()
            for t in 0..<((n + 1) / 2) {
                guard let (p, q) = SymmetricJacobi.pair(t, round: round, order: n) else { continue }
                #expect(0 <= p && p < q && q < n)
                #expect(used.insert(p).inserted && used.insert(q).inserted, "round \(round) uses \(p) or \(q) twice")
                #expect(met.insert(p * n + q).inserted, "(\(p), \(q)) met twice")
            }
            #expect(used.count >= n - 1)
        }
        #expect(met.count == n * (n - 1) / 2)
    }

    @Test("A nearly diagonal matrix (the warm start after one step) converges to a rotation near the identity")
    func warmStart() {
        let n = 10
        var a = [Double](repeating: 0, count: n * n)
        for p in 0..<n { a[p * n + p] = 0.05 + 0.09 * Double(p) }
        for p in 0..<n { for q in 0..<n where p != q { a[p * n + q] = 1e-4 * Double((p + q) % 3 - 1) } }
        let (_, vectors) = SymmetricJacobi.eigen(a, order: n)
        for p in 0..<n { #expect(vectors[p * n + p] > 0.999) }
    }

    @Test("A non-finite matrix stops at once and gives non-finite eigenvalues; the projection plan marks it invalid")
    func nonFinite() {
        var a = randomSymmetric(4, seed: 9, spread: 1)
        a[1] = .nan
        a[4] = .nan
        let values = SymmetricJacobi.eigen(a, order: 4).values
        #expect(values.contains { !$0.isFinite })
        #expect(!ProjectionPlan(inner: a, latent: 4, eigenvalueFloor: 1e-3).valid)
        let indefinite = [1.0, 0, 0, -0.5]
        #expect(ProjectionPlan(inner: indefinite, latent: 2, eigenvalueFloor: 1e-3).valid)
        #expect(!ProjectionPlan(inner: indefinite, latent: 2, eigenvalueFloor: 0).valid)
    }
}
