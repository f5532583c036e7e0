import CBLAS
import Foundation
import MFA

/// The per-component kernels: the M_k projection and the derived quantities of each component.
/// θ is component-major (`ParameterLayout`), so each component's rows are contiguous: inner loops
/// run over d with unit stride, l×l work goes to LAPACKE in float64, l×d products to BLAS.
extension CPUBackend {
    public func project(_ parameters: CPUBuffer, firstMoment: CPUBuffer?, secondMoment: CPUBuffer?,
                        components: CPUBuffer, shape: MixtureShape, options: ProjectionOptions) throws {
        switch precision {
        case .single:
            try Self.project(parameters.values(Float.self), firstMoment?.values(Float.self), secondMoment?.values(Float.self),
                             components.values(Float.self), shape, options)
        case .double:
            try Self.project(parameters.values(Double.self), firstMoment?.values(Double.self), secondMoment?.values(Double.self),
                             components.values(Double.self), shape, options)
        }
    }

    static func project<T: CPUScalar>(_ theta: UnsafeMutablePointer<T>, _ firstMoment: UnsafeMutablePointer<T>?,
                                      _ secondMoment: UnsafeMutablePointer<T>?, _ components: UnsafeMutablePointer<T>,
                                      _ shape: MixtureShape, _ options: ProjectionOptions) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape)
        let logPrecision = theta + layout.logPrecision.lowerBound
        if options.noise != .diagonal {
            var values = (0..<(k * d)).map { Double(logPrecision[$0]) }
            options.noise.tie(&values, shape: shape)
            for p in 0..<(k * d) { logPrecision[p] = T(values[p]) }
        }
        let (low, high) = (T(options.logPrecisionRange.lowerBound), T(options.logPrecisionRange.upperBound))
        for p in 0..<(k * d) { logPrecision[p] = min(max(logPrecision[p], low), high) }
        guard l > 0 else { return }

        let tau = options.eigenvalueFloor
        let eigenvalues = components + ComponentLayout(shape: shape).eigenvalues.lowerBound
        let clippedCounts = components + ComponentLayout(shape: shape).clipped.lowerBound
        try forEachChunk(of: k) { range in
            var scaled = [Double](repeating: 0, count: l * d)
            var root = [T](repeating: 0, count: d)
            var inner = [Double](repeating: 0, count: l * l)
            var rotation = [T](repeating: 0, count: l * l)
            var squaredRotation = [T](repeating: 0, count: l * l)
            var product = [T](repeating: 0, count: l * d)
            for c in range {
                let offset = layout.loadings.lowerBound + c * l * d
                let gamma = theta + offset
                // Ĝ = Γ_kᵀ E^{-1/2} (l×d), M = I − Ĝ Ĝᵀ in float64.
                for j in 0..<d { root[j] = T.exponential(-0.5 * logPrecision[c * d + j]) }
                for i in 0..<l { for j in 0..<d { scaled[i * d + j] = Double(gamma[i * d + j] * root[j]) } }
                for a in 0..<l { for b in 0..<l { inner[a * l + b] = a == b ? 1 : 0 } }
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, blasInt(l), blasInt(d), -1, scaled, blasInt(d),
                            1, &inner, blasInt(l))
                for a in 0..<l { for b in 0..<a { inner[a * l + b] = inner[b * l + a] } }  // dsyrk filled the upper half
                let plan = ProjectionPlan(inner: inner, latent: l, eigenvalueFloor: tau)
                guard plan.valid else {
                    clippedCounts[c] = .nan
                    continue
                }
                for p in 0..<(l * l) {
                    rotation[p] = T(plan.exactRotation[p])
                    squaredRotation[p] = rotation[p] * rotation[p]
                }
                // Γ_k ← Γ_k R, i.e. Γ_kᵀ ← Rᵀ Γ_kᵀ, and the optimizer moments with it.
                rotate(gamma, by: rotation, l: l, d: d, scratch: &product)
                if let first = firstMoment { rotate(first + offset, by: rotation, l: l, d: d, scratch: &product) }
                if let second = secondMoment { rotate(second + offset, by: squaredRotation, l: l, d: d, scratch: &product) }
                for i in 0..<l { eigenvalues[c * l + i] = T(plan.exactEigenvalues[i]) }
                clippedCounts[c] += T(plan.clipped)
            }
        }
    }

    /// A ← Rᵀ A for the contiguous l×d block A (R l×l row-major).
    private static func rotate<T: CPUScalar>(_ block: UnsafeMutablePointer<T>, by r: [T], l: Int, d: Int, scratch: inout [T]) {
        scratch.withUnsafeMutableBufferPointer { out in
            T.gemm(transposeA: true, transposeB: false, m: l, n: d, k: l, alpha: 1, a: r, lda: l, b: block, ldb: d, beta: 0,
                   c: out.baseAddress!, ldc: d)
        }
        scratch.withUnsafeBufferPointer { block.update(from: $0.baseAddress!, count: l * d) }
    }

    public func prepareComponents(_ parameters: CPUBuffer, components: CPUBuffer, shape: MixtureShape) throws {
        switch precision {
        case .single: try Self.prepareComponents(parameters.values(Float.self), components.values(Float.self), shape)
        case .double: try Self.prepareComponents(parameters.values(Double.self), components.values(Double.self), shape)
        }
    }

    static func prepareComponents<T: CPUScalar>(_ theta: UnsafeMutablePointer<T>, _ comp: UnsafeMutablePointer<T>,
                                                _ shape: MixtureShape) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let weights = softmax(layout.logits.map { theta[$0] })
        let logTwoPi = Foundation.log(2 * Double.pi)
        try forEachChunk(of: k) { range in
            var inverseE = [T](repeating: 0, count: d)
            for c in range {
                let mu = theta + layout.means.lowerBound + c * d
                let a = theta + layout.logPrecision.lowerBound + c * d
                let quadratic = comp + cl.quadratic.lowerBound + c * 2 * d
                let leverage = comp + cl.leverage.lowerBound + c * d
                var sumLogE = 0.0, sumEMuSquared = 0.0
                for j in 0..<d {
                    let e = T.exponential(a[j])
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
                    var shift: T = 0
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
                comp[cl.offsets.lowerBound + c] = T(offset)
                comp[cl.weights.lowerBound + c] = T(weights[c])
            }
        }
    }
}
