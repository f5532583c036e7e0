import CBLAS
import Foundation
import MFA

/// The per-component kernels: the gradient's assembly, the M_k projection and the derived
/// quantities of each component, each written once for one component so that the batch
/// operations of the Backend protocol and the fused step (`CPUFusedStep.swift`) share them.
/// θ is component-major (`ParameterLayout`), so each component's rows are contiguous: inner loops
/// run over d with unit stride, M_k is built in float64 (dgemm), l×d products go to BLAS.
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
        var options = options
        if options.noise == .shared {
            // Tied across components: done here for all, then each component is projected alone.
            let (k, d) = (shape.components, shape.dimension)
            let logPrecision = theta + ParameterLayout(shape: shape).logPrecision.lowerBound
            var values = (0..<(k * d)).map { Double(logPrecision[$0]) }
            options.noise.tie(&values, shape: shape)
            for p in 0..<(k * d) { logPrecision[p] = T(values[p]) }
            options.noise = .diagonal
        }
        try forEachChunk(of: shape.components) { range in
            var scratch = ComponentScratch<T>(shape)
            for c in range {
                projectComponent(c, theta, firstMoment, secondMoment, components, shape, options, &scratch)
            }
        }
    }

    /// The projection of component c (`Backend.project`), isotropic noise tied within it.
    static func projectComponent<T: CPUScalar>(_ c: Int, _ theta: UnsafeMutablePointer<T>, _ firstMoment: UnsafeMutablePointer<T>?,
                                               _ secondMoment: UnsafeMutablePointer<T>?, _ components: UnsafeMutablePointer<T>,
                                               _ shape: MixtureShape, _ options: ProjectionOptions, _ s: inout ComponentScratch<T>) {
        let (d, l) = (shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let logPrecision = theta + layout.logPrecision.lowerBound + c * d
        if options.noise == .isotropic {
            var total = 0.0
            for j in 0..<d { total += Double(logPrecision[j]) }
            for j in 0..<d { logPrecision[j] = T(total / Double(d)) }
        }
        let (low, high) = (T(options.logPrecisionRange.lowerBound), T(options.logPrecisionRange.upperBound))
        for j in 0..<d { logPrecision[j] = min(max(logPrecision[j], low), high) }
        guard l > 0 else { return }
        let offset = layout.loadings.lowerBound + c * l * d
        let gamma = theta + offset
        // Ĝ = Γ_kᵀ E^{-1/2} (l×d), M = I − Ĝ Ĝᵀ in float64.
        s.root.withUnsafeMutableBufferPointer { root in
            T.exponentials(logPrecision, factor: -0.5, into: root.baseAddress!, count: d)
            // Row by row through pointers: indexing i·d + j checks for overflow and keeps the loop scalar.
            let root = UnsafePointer(root.baseAddress!)
            s.scaled.withUnsafeMutableBufferPointer { scaled in
                for i in 0..<l {
                    let (row, out) = (UnsafePointer(gamma + i * d), scaled.baseAddress! + i * d)
                    for j in 0..<d { out[j] = Double(row[j] * root[j]) }
                }
            }
        }
        for a in 0..<l { for b in 0..<l { s.inner[a * l + b] = a == b ? 1 : 0 } }
        // dgemm, not dsyrk: at l×l from l×d OpenBLAS's dsyrk packs both operands, its dgemm takes the
        // small-matrix path (the fused step 12.2 → 11.2 ms at K = 500); then exactly symmetric.
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasInt(l), blasInt(l), blasInt(d), -1, s.scaled, blasInt(d),
                    s.scaled, blasInt(d), 1, &s.inner, blasInt(l))
        for a in 0..<l { for b in 0..<a { s.inner[a * l + b] = s.inner[b * l + a] } }
        let plan = ProjectionPlan(inner: s.inner, latent: l, eigenvalueFloor: options.eigenvalueFloor)
        let clipped = components + cl.clipped.lowerBound
        guard plan.valid else {
            clipped[c] = .nan
            return
        }
        for p in 0..<(l * l) {
            s.rotation[p] = T(plan.exactRotation[p])
            s.squaredRotation[p] = s.rotation[p] * s.rotation[p]
        }
        // Γ_k ← Γ_k R, i.e. Γ_kᵀ ← Rᵀ Γ_kᵀ, and the optimizer moments with it.
        rotate(gamma, by: s.rotation, l: l, d: d, scratch: &s.product)
        if let first = firstMoment { rotate(first + offset, by: s.rotation, l: l, d: d, scratch: &s.product) }
        if let second = secondMoment { rotate(second + offset, by: s.squaredRotation, l: l, d: d, scratch: &s.product) }
        for i in 0..<l { components[cl.eigenvalues.lowerBound + c * l + i] = T(plan.exactEigenvalues[i]) }
        clipped[c] += T(plan.clipped)
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
        let weights = softmax(ParameterLayout(shape: shape).logits.map { theta[$0] })
        try forEachChunk(of: shape.components) { range in
            for c in range { prepareComponent(c, theta, comp, shape, weight: weights[c]) }
        }
    }

    /// The `ComponentLayout` quantities of component c (canonical θ: M_k = diag(λ_k)), π_k given.
    static func prepareComponent<T: CPUScalar>(_ c: Int, _ theta: UnsafeMutablePointer<T>, _ comp: UnsafeMutablePointer<T>,
                                               _ shape: MixtureShape, weight: Double) {
        let (d, l) = (shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let mu = theta + layout.means.lowerBound + c * d
        let a = theta + layout.logPrecision.lowerBound + c * d
        let quadratic = comp + cl.quadratic.lowerBound + c * 2 * d
        let leverage = comp + cl.leverage.lowerBound + c * d
        var sumLogE = 0.0, sumEMuSquared = 0.0
        T.exponentials(a, factor: 1, into: quadratic, count: d)
        for j in 0..<d {
            let e = quadratic[j]
            quadratic[d + j] = -2 * e * mu[j]
            sumLogE += Double(a[j])
            sumEMuSquared += Double(e * mu[j] * mu[j])
            leverage[j] = 0
        }
        var logDetM = 0.0
        for i in 0..<l {
            let lambda = comp[cl.eigenvalues.lowerBound + c * l + i]
            let inverseLambda = 1 / lambda
            logDetM += Foundation.log(Double(lambda))
            let gamma = theta + layout.loadings.lowerBound + (c * l + i) * d
            for j in 0..<d { leverage[j] += gamma[j] * gamma[j] * inverseLambda }
            comp[cl.latentShift.lowerBound + c * l + i] = dot(gamma, mu, count: d)
        }
        let offset = Foundation.log(weight) - 0.5 * Double(d) * Foundation.log(2 * Double.pi) + 0.5 * (sumLogE + logDetM)
            - 0.5 * sumEMuSquared
        comp[cl.offsets.lowerBound + c] = T(offset)
        comp[cl.weights.lowerBound + c] = T(weight)
    }

    /// The gradient of component c's μ, a and Γ (`Backend.assembleGradient`; DESIGN.md §2) into
    /// the three places given, each laid out as in θ for one component.
    static func assembleComponent<T: CPUScalar>(_ c: Int, _ theta: UnsafeMutablePointer<T>, _ comp: UnsafeMutablePointer<T>,
                                                _ cross: UnsafeMutablePointer<T>, _ squareSums: UnsafeMutablePointer<T>,
                                                _ totals: UnsafeMutablePointer<T>, _ shape: MixtureShape,
                                                means gradientMu: UnsafeMutablePointer<T>, logPrecision gradientA: UnsafeMutablePointer<T>,
                                                loadings gradientGamma: UnsafeMutablePointer<T>) {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let kl = k * l
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let w = totals[kl + c]
        let mu = theta + layout.means.lowerBound + c * d
        let e = comp + cl.quadratic.lowerBound + c * 2 * d  // e_k, as prepareComponents left it
        let s1 = cross + (kl + c) * d, s2 = squareSums + c * d
        let leverage = comp + cl.leverage.lowerBound + c * d
        // ∂L/∂a = −e·½(W/e + W h/e² − Σ w δ²), Σ w δ² = s2 − 2μ s1 + W μ²
        for j in 0..<d {
            let squaredDeviation = s2[j] - 2 * mu[j] * s1[j] + w * mu[j] * mu[j]
            gradientA[j] = -0.5 * (w + w * leverage[j] / e[j] - e[j] * squaredDeviation)
            gradientMu[j] = -e[j] * (s1[j] - w * mu[j])
        }
        for i in 0..<l {
            let t = totals[c * l + i]
            let weightOverLambda = w / comp[cl.eigenvalues.lowerBound + c * l + i]
            let row = (c * l + i) * d
            let gamma = theta + layout.loadings.lowerBound + row
            let sums = cross + row
            let gradientRow = gradientGamma + i * d
            for j in 0..<d {
                // ∂L/∂μ = −(E Σ w δ − Γ Σ w z);  ∂L/∂Γ = −(Σ w δ zᵀ − W E⁻¹ Γ M⁻¹), M = diag(λ)
                gradientMu[j] += gamma[j] * t
                gradientRow[j] = -(sums[j] - mu[j] * t - weightOverLambda * gamma[j] / e[j])
            }
        }
    }
}

/// Per-thread scratch of the per-component passes.
struct ComponentScratch<T: CPUScalar> {
    var scaled: [Double], inner: [Double]
    var root: [T], rotation: [T], squaredRotation: [T], product: [T]
    /// The gradient of one component's μ, a and Γ (the fused step's).
    var gradient: [T]

    init(_ shape: MixtureShape) {
        let (d, l) = (shape.dimension, shape.latent)
        scaled = [Double](repeating: 0, count: l * d)
        inner = [Double](repeating: 0, count: l * l)
        root = [T](repeating: 0, count: d)
        rotation = [T](repeating: 0, count: l * l)
        squaredRotation = rotation
        product = [T](repeating: 0, count: l * d)
        gradient = [T](repeating: 0, count: (2 + l) * d)
    }
}

/// Σ a_j b_j with eight partial sums: one running sum is a chain of dependent additions, which
/// cost the component constants (l·d of them per component) more than everything else in them.
@inline(__always) func dot<T: CPUScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) -> T {
    var (s0, s1, s2, s3, s4, s5, s6, s7) = (T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0))
    let whole = count / 8 * 8
    for j in stride(from: 0, to: whole, by: 8) {
        s0 += a[j] * b[j]; s1 += a[j + 1] * b[j + 1]; s2 += a[j + 2] * b[j + 2]; s3 += a[j + 3] * b[j + 3]
        s4 += a[j + 4] * b[j + 4]; s5 += a[j + 5] * b[j + 5]; s6 += a[j + 6] * b[j + 6]; s7 += a[j + 7] * b[j + 7]
    }
    for j in whole..<count { s0 += a[j] * b[j] }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
