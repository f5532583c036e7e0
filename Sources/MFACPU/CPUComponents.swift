import CBLAS
import Foundation
import MFA

/// The per-component kernels: the M_k projection and the derived quantities of each component.
/// l×l work in float64 through LAPACKE; the d×l products through small BLAS calls.
extension CPUBackend {
    public func project(_ parameters: CPUBuffer, firstMoment: CPUBuffer?, secondMoment: CPUBuffer?,
                        components: CPUBuffer, shape: MixtureShape, options: ProjectionOptions) throws -> Int {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape)
        let logPrecision = parameters[layout.logPrecision]
        let range = options.logPrecisionRange
        for p in logPrecision.indices { logPrecision[p] = min(max(logPrecision[p], range.lowerBound), range.upperBound) }
        guard l > 0 else { return 0 }

        let kl = k * l
        let tau = options.eigenvalueFloor
        let eigenvalues = components.pointer + ComponentLayout(shape: shape).eigenvalues.lowerBound
        var scaled = [Double](repeating: 0, count: d * l)
        var inner = [Double](repeating: 0, count: l * l)
        var rotation = [Float](repeating: 0, count: l * l)
        var squaredRotation = rotation
        var product = [Float](repeating: 0, count: d * l)
        var clipped = 0
        for c in 0..<k {
            let gamma = parameters.pointer + layout.loadings.lowerBound + c * l
            // Ĝ = E^{-1/2} Γ_k, M = I − ĜᵀĜ
            for j in 0..<d {
                let root = Double(Foundation.exp(-0.5 * logPrecision[c * d + j]))
                for i in 0..<l { scaled[j * l + i] = Double(gamma[j * kl + i]) * root }
            }
            for a in 0..<l { for b in 0..<l { inner[a * l + b] = a == b ? 1 : 0 } }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasInt(l), blasInt(d), -1, scaled, blasInt(l),
                        1, &inner, blasInt(l))
            var (lambda, vectors) = try SmallLinearAlgebra.symmetricEigen(inner, order: l)
            for p in 0..<(l * l) {
                rotation[p] = Float(vectors[p])
                squaredRotation[p] = rotation[p] * rotation[p]
            }
            // Γ_k ← Γ_k O, and the optimizer moments with it (P_k is unchanged).
            rotate(parameters.pointer + layout.loadings.lowerBound + c * l, by: rotation, d: d, l: l, stride: kl,
                   scratch: &product)
            if let first = firstMoment {
                rotate(first.pointer + layout.loadings.lowerBound + c * l, by: rotation, d: d, l: l, stride: kl,
                       scratch: &product)
            }
            if let second = secondMoment {
                rotate(second.pointer + layout.loadings.lowerBound + c * l, by: squaredRotation, d: d, l: l,
                       stride: kl, scratch: &product)
            }
            for i in 0..<l where lambda[i] < tau || lambda[i] <= 0 {
                guard tau > 0 else {
                    throw MFAError.numerical(
                        "component \(c): M = I − ΓᵀE⁻¹Γ is not positive definite (eigenvalue \(lambda[i]))")
                }
                let factor = Float(((1 - tau) / (1 - lambda[i])).squareRoot())
                for j in 0..<d {
                    gamma[j * kl + i] *= factor
                    firstMoment.map { $0.pointer[layout.loadings.lowerBound + j * kl + c * l + i] *= factor }
                    secondMoment.map { $0.pointer[layout.loadings.lowerBound + j * kl + c * l + i] *= factor * factor }
                }
                lambda[i] = tau
                clipped += 1
            }
            for i in 0..<l { eigenvalues[c * l + i] = Float(lambda[i]) }
        }
        return clipped
    }

    /// A ← A·R for the d×l block at `block` (row stride `stride`), R l×l row-major.
    private func rotate(_ block: UnsafeMutablePointer<Float>, by r: [Float], d: Int, l: Int, stride: Int,
                        scratch: inout [Float]) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasInt(d), blasInt(l), blasInt(l), 1, block,
                    blasInt(stride), r, blasInt(l), 0, &scratch, blasInt(l))
        scratch.withUnsafeBufferPointer { s in
            for j in 0..<d { (block + j * stride).update(from: s.baseAddress! + j * l, count: l) }
        }
    }

    public func prepareComponents(_ parameters: CPUBuffer, components: CPUBuffer, shape: MixtureShape) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let kl = k * l
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let theta = parameters.pointer, comp = components.pointer
        let weights = softmax(Array(parameters[layout.logits]))
        let eigenvalues = comp + cl.eigenvalues.lowerBound
        var shift = [Double](repeating: 0, count: kl)
        var sumLogE = [Double](repeating: 0, count: k)
        var sumEMuSquared = [Double](repeating: 0, count: k)
        for c in 0..<k {
            let quadratic = comp + cl.quadratic.lowerBound + c * 2 * d
            for j in 0..<d {
                let a = theta[layout.logPrecision.lowerBound + c * d + j]
                let mu = theta[layout.means.lowerBound + c * d + j]
                let e = Foundation.exp(a)
                quadratic[j] = e
                quadratic[d + j] = -2 * e * mu
                sumLogE[c] += Double(a)
                sumEMuSquared[c] += Double(e) * Double(mu) * Double(mu)
            }
        }
        // Row j of Γ holds every component's γ_kj: walk Γ once.
        for j in 0..<d {
            let gammaRow = theta + layout.loadings.lowerBound + j * kl
            let scaledRow = comp + cl.scaledLoadings.lowerBound + j * kl
            for c in 0..<k {
                let mu = Double(theta[layout.means.lowerBound + c * d + j])
                let inverseE = 1 / Double(Foundation.exp(theta[layout.logPrecision.lowerBound + c * d + j]))
                var leverage = 0.0
                for i in 0..<l {
                    let gamma = Double(gammaRow[c * l + i])
                    let inverseLambda = 1 / Double(eigenvalues[c * l + i])
                    shift[c * l + i] += gamma * mu
                    leverage += gamma * gamma * inverseLambda
                    scaledRow[c * l + i] = Float(gamma * inverseE * inverseLambda)
                }
                comp[cl.leverage.lowerBound + c * d + j] = Float(leverage)
            }
        }
        let logTwoPi = Foundation.log(2 * Double.pi)
        for c in 0..<k {
            var logDetM = 0.0
            for i in 0..<l { logDetM += Foundation.log(Double(eigenvalues[c * l + i])) }
            let offset = Foundation.log(weights[c]) - 0.5 * Double(d) * logTwoPi + 0.5 * (sumLogE[c] + logDetM)
                - 0.5 * sumEMuSquared[c]
            comp[cl.offsets.lowerBound + c] = Float(offset)
            comp[cl.weights.lowerBound + c] = Float(weights[c])
        }
        for p in 0..<kl { comp[cl.latentShift.lowerBound + p] = Float(shift[p]) }
    }
}
