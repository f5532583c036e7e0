import CBLAS
import Foundation
import MFA

/// The per-component kernels: the M_k projection and the derived quantities of each component.
/// θ is component-major (`ParameterLayout`), so each component's rows are contiguous: inner loops
/// run over d with unit stride, l×l work goes to LAPACKE in float64, l×d products to BLAS.
extension CPUBackend {
    public func project(_ parameters: CPUBuffer, firstMoment: CPUBuffer?, secondMoment: CPUBuffer?,
                        components: CPUBuffer, shape: MixtureShape, options: ProjectionOptions) throws -> Int {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape)
        let logPrecision = parameters.pointer + layout.logPrecision.lowerBound
        if options.noise != .diagonal {
            var values = (0..<(k * d)).map { Double(logPrecision[$0]) }
            options.noise.tie(&values, shape: shape)
            for p in 0..<(k * d) { logPrecision[p] = Float(values[p]) }
        }
        let (low, high) = (options.logPrecisionRange.lowerBound, options.logPrecisionRange.upperBound)
        for p in 0..<(k * d) { logPrecision[p] = min(max(logPrecision[p], low), high) }
        guard l > 0 else { return 0 }

        let tau = options.eigenvalueFloor
        let eigenvalues = components.pointer + ComponentLayout(shape: shape).eigenvalues.lowerBound
        let clippedCounts = UnsafeMutableBufferPointer<Int>.allocate(capacity: k)
        defer { clippedCounts.deallocate() }
        try forEachChunk(of: k) { range in
            var scaled = [Double](repeating: 0, count: l * d)
            var root = [Float](repeating: 0, count: d)
            var inner = [Double](repeating: 0, count: l * l)
            var squaredRotation = [Float](repeating: 0, count: l * l)
            var product = [Float](repeating: 0, count: l * d)
            for c in range {
                let offset = layout.loadings.lowerBound + c * l * d
                let gamma = parameters.pointer + offset
                // Ĝ = Γ_kᵀ E^{-1/2} (l×d), M = I − Ĝ Ĝᵀ in float64.
                for j in 0..<d { root[j] = Foundation.exp(-0.5 * logPrecision[c * d + j]) }
                for i in 0..<l { for j in 0..<d { scaled[i * d + j] = Double(gamma[i * d + j] * root[j]) } }
                for a in 0..<l { for b in 0..<l { inner[a * l + b] = a == b ? 1 : 0 } }
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, blasInt(l), blasInt(d), -1, scaled, blasInt(d),
                            1, &inner, blasInt(l))
                let plan = try ProjectionPlan(inner: inner, latent: l, eigenvalueFloor: tau, component: c)
                for p in 0..<(l * l) { squaredRotation[p] = plan.rotation[p] * plan.rotation[p] }
                // Γ_k ← Γ_k R, i.e. Γ_kᵀ ← Rᵀ Γ_kᵀ, and the optimizer moments with it.
                rotate(gamma, by: plan.rotation, l: l, d: d, scratch: &product)
                if let first = firstMoment { rotate(first.pointer + offset, by: plan.rotation, l: l, d: d, scratch: &product) }
                if let second = secondMoment {
                    rotate(second.pointer + offset, by: squaredRotation, l: l, d: d, scratch: &product)
                }
                for i in 0..<l { eigenvalues[c * l + i] = plan.eigenvalues[i] }
                clippedCounts[c] = plan.clipped
            }
        }
        return clippedCounts.reduce(0, +)
    }

    /// A ← Rᵀ A for the contiguous l×d block A (R l×l row-major).
    private func rotate(_ block: UnsafeMutablePointer<Float>, by r: [Float], l: Int, d: Int, scratch: inout [Float]) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasInt(l), blasInt(d), blasInt(l), 1, r, blasInt(l),
                    block, blasInt(d), 0, &scratch, blasInt(d))
        scratch.withUnsafeBufferPointer { block.update(from: $0.baseAddress!, count: l * d) }
    }

    public func prepareComponents(_ parameters: CPUBuffer, components: CPUBuffer, shape: MixtureShape) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let theta = parameters.pointer, comp = components.pointer
        let weights = softmax(Array(parameters[layout.logits]))
        let logTwoPi = Foundation.log(2 * Double.pi)
        try forEachChunk(of: k) { range in
            var inverseE = [Float](repeating: 0, count: d)
            for c in range {
                let mu = theta + layout.means.lowerBound + c * d
                let a = theta + layout.logPrecision.lowerBound + c * d
                let quadratic = comp + cl.quadratic.lowerBound + c * 2 * d
                let leverage = comp + cl.leverage.lowerBound + c * d
                var sumLogE = 0.0, sumEMuSquared = 0.0
                for j in 0..<d {
                    let e = Foundation.exp(a[j])
                    quadratic[j] = e
                    quadratic[d + j] = -2 * e * mu[j]
                    inverseE[j] = 1 / e
                    sumLogE += Double(a[j])
                    sumEMuSquared += Double(e * mu[j] * mu[j])
                }
                for j in 0..<d { leverage[j] = 0 }
                var logDetM = 0.0
                for i in 0..<l {
                    let lambda = comp[cl.eigenvalues.lowerBound + c * l + i]
                    let inverseLambda = 1 / lambda
                    logDetM += Foundation.log(Double(lambda))
                    let gamma = theta + layout.loadings.lowerBound + (c * l + i) * d
                    let scaled = comp + cl.scaledLoadings.lowerBound + (c * l + i) * d
                    var shift: Float = 0
                    for j in 0..<d {
                        let g = gamma[j]
                        shift += g * mu[j]
                        leverage[j] += g * g * inverseLambda
                        scaled[j] = g * inverseE[j] * inverseLambda
                    }
                    comp[cl.latentShift.lowerBound + c * l + i] = shift
                }
                let offset = Foundation.log(weights[c]) - 0.5 * Double(d) * logTwoPi + 0.5 * (sumLogE + logDetM)
                    - 0.5 * sumEMuSquared
                comp[cl.offsets.lowerBound + c] = Float(offset)
                comp[cl.weights.lowerBound + c] = Float(weights[c])
            }
        }
    }
}
