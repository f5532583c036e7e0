import Foundation

extension MixtureModel {
    /// Conditional reconstruction (in-painting): every coordinate whose `missing` flag is set is
    /// replaced by its conditional expectation given the observed ones, under the component most
    /// probable given the observed coordinates (`mixture: false`) or averaged over all components
    /// by those probabilities (`mixture: true`). Per component, with O observed and U missing,
    /// Woodbury on the observed coordinates only (no d×d matrix, no inverse beyond l×l):
    ///
    ///     L = I + Λ_Oᵀ Ψ_O⁻¹ Λ_O,  ẑ = L⁻¹ Λ_Oᵀ Ψ_O⁻¹ (x_O − μ_O),  E[x_U | x_O] = μ_U + Λ_U ẑ
    ///     log N(x_O) = −½ (|O| log 2π + Σ log ψ_O + log det L + δᵀΨ_O⁻¹δ − ẑᵀ L ẑ)
    ///
    /// `missing` is [N, d] (true = fill in), or [d] for one mask shared by every row.
    public func reconstruct(_ data: Matrix, missing: [Bool], mixture: Bool) throws -> Matrix {
        let (k, d) = (shape.components, shape.dimension)
        guard data.columns == d else { throw MFAError.shapeMismatch("data have d = \(data.columns), the model d = \(d)") }
        guard missing.count == data.rows * d || missing.count == d else {
            throw MFAError.shapeMismatch("the mask has \(missing.count) entries; expected \(data.rows)×\(d) or \(d)")
        }
        var out = data
        for n in 0..<data.rows {
            let flags = missing.count == d ? missing[...] : missing[(n * d)..<((n + 1) * d)]
            let hidden = (0..<d).filter { flags[flags.startIndex + $0] }
            guard !hidden.isEmpty else { continue }
            let observed = (0..<d).filter { !flags[flags.startIndex + $0] }
            var scores = [Double](), fills = [[Double]]()
            for c in 0..<k {
                let (score, fill) = try conditional(component: c, sample: data.row(n), observed: observed, hidden: hidden)
                scores.append(Foundation.log(Double(weights[c])) + score)
                fills.append(fill)
            }
            let top = scores.max()!
            let posterior = scores.map { Foundation.exp($0 - top) }
            let total = posterior.reduce(0, +)
            let best = scores.indices.max { scores[$0] < scores[$1] }!
            for (position, j) in hidden.enumerated() {
                let value = mixture ? (0..<k).reduce(0.0) { $0 + posterior[$1] / total * fills[$1][position] } : fills[best][position]
                out[n, j] = Float(value)
            }
        }
        return out
    }

    /// log N(x_O | μ_O, Σ_OO) and E[x_U | x_O] for one component.
    func conditional(component c: Int, sample: ArraySlice<Float>, observed: [Int], hidden: [Int]) throws -> (Double, [Double]) {
        let (d, l) = (shape.dimension, shape.latent)
        let x = Array(sample)
        let lambda = { (j: Int, i: Int) in Double(self.loadings[(c * d + j) * l + i]) }
        var inner = [Double](repeating: 0, count: l * l)   // L = I + Λ_Oᵀ Ψ_O⁻¹ Λ_O
        var projected = [Double](repeating: 0, count: l)   // Λ_Oᵀ Ψ_O⁻¹ δ
        var quadratic = 0.0, logDetPsi = 0.0
        for i in 0..<l { inner[i * l + i] = 1 }
        for j in observed {
            let psi = Double(noiseVariances[c * d + j])
            let delta = Double(x[j]) - Double(means[c * d + j])
            quadratic += delta * delta / psi
            logDetPsi += Foundation.log(psi)
            for a in 0..<l {
                projected[a] += lambda(j, a) * delta / psi
                for b in 0..<l { inner[a * l + b] += lambda(j, a) * lambda(j, b) / psi }
            }
        }
        guard let lower = SmallLinearAlgebra.cholesky(inner, order: l) else {
            throw MFAError.numerical("component \(c): I + ΛᵀΨ⁻¹Λ is not positive definite")
        }
        var z = projected  // ẑ = L⁻¹ projected, by two triangular solves
        SmallLinearAlgebra.solveLower(lower, &z, order: l)
        let halfQuadratic = z.reduce(0) { $0 + $1 * $1 }  // projectedᵀ L⁻¹ projected
        SmallLinearAlgebra.solveLowerTransposed(lower, &z, order: l)
        let logDetL = (0..<l).reduce(0.0) { $0 + 2 * Foundation.log(lower[$1 * l + $1]) }
        let score = -0.5 * (Double(observed.count) * Foundation.log(2 * Double.pi) + logDetPsi + logDetL + quadratic - halfQuadratic)
        let fill = hidden.map { j in Double(means[c * d + j]) + (0..<l).reduce(0.0) { $0 + lambda(j, $1) * z[$1] } }
        return (score, fill)
    }
}
