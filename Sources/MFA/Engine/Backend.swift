/// The seam between the algorithms (training loops, evaluation, initialisation), written once,
/// and the devices that run them. A backend owns float32 buffers, runs GEMMs on them, and runs a
/// few named kernels whose contracts are stated here; everything else is written against this
/// protocol (DESIGN.md §2, §4). Shapes are row-major; `rows` is the number of samples in the batch.
public protocol Backend: AnyObject {
    associatedtype Buffer: AnyObject

    /// A one-line description of the backend and its device, for progress output.
    var name: String { get }

    /// A new buffer of `count` floats, zero-filled.
    func makeBuffer(count: Int) throws -> Buffer
    func write(_ values: UnsafeBufferPointer<Float>, to buffer: Buffer, offset: Int) throws
    func read(_ buffer: Buffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws
    /// The values as float64, as exact as the buffer holds them (a float64 backend's sums).
    func readDoubles(_ buffer: Buffer, offset: Int, into values: UnsafeMutableBufferPointer<Double>) throws
    func writeDoubles(_ values: UnsafeBufferPointer<Double>, to buffer: Buffer, offset: Int) throws
    /// Whether buffers hold float64 (then the engine hands over float64 data and parameters).
    var keepsDoubles: Bool { get }

    /// C ← α·op(A)·op(B) + β·C on sub-matrices of the buffers (row-major, like cblas_sgemm).
    func gemm(_ product: MatrixProduct, a: Buffer, b: Buffer, c: Buffer) throws

    /// expanded[n] = [x_n ∘ x_n | x_n]   (rows × 2d, from rows × d)
    func expandBatch(_ batch: Buffer, rows: Int, dimension: Int, into expanded: Buffer) throws

    /// Keeps every M_k positive definite and Γ_k canonical (DESIGN.md §1): ties the log-precision a
    /// to `options.noise` (its mean over d for isotropic noise, over k for shared), clips it into
    /// `options.logPrecisionRange`, eigendecomposes M_k = O diag(λ) Oᵀ, rotates Γ_k ← Γ_k O
    /// (and the optimizer moments with it: first ← first·O, second ← second·(O∘O)), then scales
    /// every column with λ_i < τ by √((1−τ)/(1−λ_i)) so that λ_i = τ (`ProjectionPlan`, with the
    /// shared eigensolver `SymmetricJacobi`). Writes λ into `components[layout.eigenvalues]` and
    /// adds the number clipped per component into `components[layout.clipped]`; a component whose
    /// M_k is not finite, or with τ = 0 has a λ_i ≤ 0, gets NaN there and keeps its Γ_k. Nothing
    /// is read back: the engine reads the counts when it reports (`MixtureEngine.drainClipped`).
    func project(_ parameters: Buffer, firstMoment: Buffer?, secondMoment: Buffer?, components: Buffer,
                 shape: MixtureShape, options: ProjectionOptions) throws

    /// Fills the `ComponentLayout` fields (all but eigenvalues) from θ, assuming θ is canonical
    /// (M_k = diag(λ_k), as `project` leaves it).
    func prepareComponents(_ parameters: Buffer, components: Buffer, shape: MixtureShape) throws

    /// With quadratic = expanded·quadraticᵀ [rows, K] and latents = batch·loadingsᵀ [rows, K·l]
    /// (the two forward GEMMs):
    /// latents[n,k,:] −= Γ_kᵀμ_k (in place: centred latents z),
    /// ℓ[n,k] = offsets_k − ½ quadratic[n,k] + ½‖z[n,k,:]‖², logDensity[n] = logsumexp_k ℓ[n,k],
    /// responsibilities[n,k] = exp(ℓ[n,k] − logDensity[n]).
    func logLikelihoods(quadratic: Buffer, latents: Buffer, components: Buffer, shape: MixtureShape, rows: Int,
                        logDensity: Buffer, responsibilities: Buffer) throws

    /// weighted[n] = [s·r[n,k]·z[n,k,:] for all k | s·r[n,k] for all k]   (rows × K(l+1))
    func weightLatents(responsibilities: Buffer, latents: Buffer, shape: MixtureShape, rows: Int, scale: Float,
                       into weighted: Buffer) throws

    /// tally[0] += Σ_n logDensity[n] over `rows`, Kahan-compensated in tally[1] (the sum is
    /// tally[0] − tally[1]): an epoch's log-likelihood kept on the device to near-float64
    /// accuracy and read only when reported. A non-finite density makes the sum non-finite.
    func tallyLogDensity(_ logDensity: Buffer, rows: Int, into tally: Buffer) throws

    /// totals[c] = Σ_n matrix[n, c]
    func columnSums(_ matrix: Buffer, rows: Int, columns: Int, into totals: Buffer) throws

    /// moments[k] = Σ_n r[n,k] z[n,k,:] z[n,k,:]ᵀ   ([K, l, l]; the EM M-step's latent second moments)
    func latentSecondMoments(responsibilities: Buffer, latents: Buffer, shape: MixtureShape, rows: Int,
                             into moments: Buffer) throws

    /// The gradient of the loss −(1/B) Σ_n log p(x_n) with respect to θ (DESIGN.md §2), from the
    /// batch sums: crossSums = weightedᵀ·X [K(l+1), d], squareSums = wᵀ·(X∘X) [K, d] and
    /// columnTotals = Σ_n weighted [K(l+1)], where w = r/B.
    func assembleGradient(_ parameters: Buffer, components: Buffer, crossSums: Buffer, squareSums: Buffer,
                          columnTotals: Buffer, shape: MixtureShape, into gradient: Buffer) throws

    /// One optimizer update of θ in place from its gradient.
    func applyUpdate(_ update: OptimizerUpdate, parameters: Buffer, gradient: Buffer,
                     firstMoment: Buffer, secondMoment: Buffer?) throws

    /// One whole optimizer step from the batch sums: `assembleGradient` into `gradient`,
    /// `applyUpdate`, `project` and `prepareComponents`, in that order. The default runs the four
    /// (`composedUpdateStep`); a backend may fuse them (the CPU does, per component, so that θ_k,
    /// its gradient and its moments pass through memory once instead of five times).
    func updateStep(_ parameters: Buffer, components: Buffer, sums: BatchSums<Buffer>, gradient: Buffer,
                    update: OptimizerUpdate, firstMoment: Buffer, secondMoment: Buffer?, shape: MixtureShape,
                    projection: ProjectionOptions) throws
    /// Whether `updateStep` is fused (else it is `composedUpdateStep`; the benchmark then times
    /// its four operations one by one).
    var fusesUpdateStep: Bool { get }
}

/// A batch's GEMM-shaped sums (`MixtureEngine.batchSums`), where `assembleGradient` takes them.
public struct BatchSums<Buffer> {
    public let crossSums: Buffer, squareSums: Buffer, columnTotals: Buffer
    public init(crossSums: Buffer, squareSums: Buffer, columnTotals: Buffer) {
        (self.crossSums, self.squareSums, self.columnTotals) = (crossSums, squareSums, columnTotals)
    }
}

extension Backend {
    public var keepsDoubles: Bool { false }
    public var fusesUpdateStep: Bool { false }

    public func updateStep(_ parameters: Buffer, components: Buffer, sums: BatchSums<Buffer>, gradient: Buffer,
                           update: OptimizerUpdate, firstMoment: Buffer, secondMoment: Buffer?, shape: MixtureShape,
                           projection: ProjectionOptions) throws {
        try composedUpdateStep(parameters, components: components, sums: sums, gradient: gradient, update: update,
                               firstMoment: firstMoment, secondMoment: secondMoment, shape: shape, projection: projection)
    }

    /// `updateStep` as its four operations.
    public func composedUpdateStep(_ parameters: Buffer, components: Buffer, sums: BatchSums<Buffer>, gradient: Buffer,
                                   update: OptimizerUpdate, firstMoment: Buffer, secondMoment: Buffer?, shape: MixtureShape,
                                   projection: ProjectionOptions) throws {
        try assembleGradient(parameters, components: components, crossSums: sums.crossSums, squareSums: sums.squareSums,
                             columnTotals: sums.columnTotals, shape: shape, into: gradient)
        try applyUpdate(update, parameters: parameters, gradient: gradient, firstMoment: firstMoment, secondMoment: secondMoment)
        try project(parameters, firstMoment: firstMoment, secondMoment: secondMoment, components: components, shape: shape,
                    options: projection)
        try prepareComponents(parameters, components: components, shape: shape)
    }

    /// A float32 backend's values, widened.
    public func readDoubles(_ buffer: Buffer, offset: Int, into values: UnsafeMutableBufferPointer<Double>) throws {
        var single = [Float](repeating: 0, count: values.count)
        try single.withUnsafeMutableBufferPointer { try read(buffer, offset: offset, into: $0) }
        for p in 0..<values.count { values[p] = Double(single[p]) }
    }

    /// Narrowed to float32.
    public func writeDoubles(_ values: UnsafeBufferPointer<Double>, to buffer: Buffer, offset: Int) throws {
        try values.map(Float.init).withUnsafeBufferPointer { try write($0, to: buffer, offset: offset) }
    }
}

/// A row-major GEMM on sub-matrices: C[m×n] ← α·op(A)·op(B) + β·C.
public struct MatrixProduct: Sendable, Equatable {
    public var transposeA = false
    public var transposeB = false
    public var m: Int, n: Int, k: Int
    public var alpha: Float = 1
    public var beta: Float = 0
    public var aOffset = 0, lda: Int
    public var bOffset = 0, ldb: Int
    public var cOffset = 0, ldc: Int

    public init(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                alpha: Float = 1, beta: Float = 0, aOffset: Int = 0, lda: Int, bOffset: Int = 0, ldb: Int,
                cOffset: Int = 0, ldc: Int) {
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.m = m
        self.n = n
        self.k = k
        self.alpha = alpha
        self.beta = beta
        self.aOffset = aOffset
        self.lda = lda
        self.bOffset = bOffset
        self.ldb = ldb
        self.cOffset = cOffset
        self.ldc = ldc
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// The projection's settings: the floor τ on M_k's eigenvalues, the bounds on a = log e (the
/// upper one is the variance floor: e ≤ 1/σ²_min), and the noise structure a is tied to.
public struct ProjectionOptions: Sendable, Equatable {
    public var eigenvalueFloor: Double
    public var logPrecisionRange: ClosedRange<Float>
    public var noise: NoiseStructure

    public init(eigenvalueFloor: Double, logPrecisionRange: ClosedRange<Float>, noise: NoiseStructure = .diagonal) {
        self.eigenvalueFloor = eigenvalueFloor
        self.logPrecisionRange = logPrecisionRange
        self.noise = noise
    }

    /// No clipping at all: for evaluating a given model exactly (a λ ≤ 0 throws).
    public static let exact = ProjectionOptions(eigenvalueFloor: 0, logPrecisionRange: -Float.infinity...Float.infinity)
}

/// One optimizer update: the rule and a learning rate per contiguous range of θ.
public struct OptimizerUpdate: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        /// Adam with bias correction; `step` counts from 1.
        case adam(beta1: Float, beta2: Float, epsilon: Float, step: Int)
        /// Heavy-ball momentum: v ← μ·v + g, θ ← θ − η·v.
        case momentum(Float)
    }
    public var rule: Rule
    public var segments: [(range: Range<Int>, learningRate: Float)]

    public init(rule: Rule, segments: [(range: Range<Int>, learningRate: Float)]) {
        self.rule = rule
        self.segments = segments
    }

    public static func == (lhs: OptimizerUpdate, rhs: OptimizerUpdate) -> Bool {
        lhs.rule == rhs.rule && lhs.segments.map(\.range) == rhs.segments.map(\.range)
            && lhs.segments.map(\.learningRate) == rhs.segments.map(\.learningRate)
    }
}
