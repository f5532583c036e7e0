import Foundation

/// Runs the forward and backward passes of DESIGN.md §2 on a backend: the parameters θ live in
/// a device buffer, batches are written in, and only per-sample figures come back.
///
/// Data are standardised as x' = (x − origin)/scale: centring limits cancellation in the expanded
/// quadratic (DESIGN.md §2), and one scalar scale makes learning rates independent of the data's
/// units. θ holds the parameters of x' (μ' = (μ − origin)/s, e' = s² e, Γ' = s Γ); `load`,
/// `precisionParameters` and `readLogDensity` speak in the data's own units.
public final class MixtureEngine<B: Backend> {
    public let backend: B
    public let shape: MixtureShape
    /// The most rows one batch may hold.
    public let capacity: Int
    /// The point the data are centred on.
    public let origin: [Float]
    /// The scalar the centred data are divided by.
    public let scale: Float
    public let layout: ParameterLayout
    public let componentLayout: ComponentLayout

    /// θ, laid out as `layout` says.
    public let parameters: B.Buffer
    /// The derived per-component quantities, laid out as `componentLayout` says.
    public let components: B.Buffer
    let batch: B.Buffer
    let expanded: B.Buffer
    let quadratic: B.Buffer
    let latents: B.Buffer
    public let logDensity: B.Buffer
    public let responsibilities: B.Buffer
    /// The log-likelihood of the batches since the last `drainLogLikelihood`, on the device
    /// (`Backend.tallyLogDensity`), and how many rows it holds.
    let tally: B.Buffer
    private var tallyRows = 0
    private lazy var gradientWork = Result { try GradientBuffers(backend: backend, shape: shape, capacity: capacity) }
    private var staging: [Float]
    /// Rows in the current batch.
    public private(set) var rows = 0

    public init(backend: B, shape: MixtureShape, capacity: Int, origin: [Float], scale: Float = 1) throws {
        guard capacity >= 1 else { throw MFAError.invalidArgument("batch capacity must be at least 1") }
        guard origin.count == shape.dimension else {
            throw MFAError.shapeMismatch("origin has \(origin.count) values, expected d = \(shape.dimension)")
        }
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        self.backend = backend
        self.shape = shape
        self.capacity = capacity
        guard scale > 0, scale.isFinite else { throw MFAError.invalidArgument("data scale must be positive (got \(scale))") }
        self.origin = origin
        self.scale = scale
        layout = ParameterLayout(shape: shape)
        componentLayout = ComponentLayout(shape: shape)
        parameters = try backend.makeBuffer(count: layout.count)
        components = try backend.makeBuffer(count: componentLayout.count)
        batch = try backend.makeBuffer(count: capacity * d)
        expanded = try backend.makeBuffer(count: capacity * 2 * d)
        quadratic = try backend.makeBuffer(count: capacity * k)
        latents = try backend.makeBuffer(count: max(capacity * k * l, 1))
        logDensity = try backend.makeBuffer(count: capacity)
        responsibilities = try backend.makeBuffer(count: capacity * k)
        tally = try backend.makeBuffer(count: 2)
        staging = [Float](repeating: 0, count: capacity * d)
    }

    // MARK: Parameters

    /// Writes `model` into θ, makes it canonical (`Backend.project`) and derives the components.
    /// With `.exact` options the model is kept as it is, or rejected if some M_k is not positive definite.
    /// Returns how many of M_k's eigenvalues the projection raised to its floor.
    @discardableResult
    public func load(_ model: PrecisionParameters, options: ProjectionOptions = .exact) throws -> Int {
        guard model.shape == shape else {
            throw MFAError.shapeMismatch("model is \(model.shape), engine is \(shape)")
        }
        let theta = pack(model)
        try theta.withUnsafeBufferPointer { try backend.write($0, to: parameters, offset: 0) }
        try refresh(options: options, firstMoment: nil, secondMoment: nil)
        let clipped = try drainClipped()
        guard clipped.isFinite else {
            throw MFAError.numerical("the model has a component whose M = I − ΓᵀE⁻¹Γ is not finite or not positive definite")
        }
        return Int(clipped)
    }

    /// Writes a covariance-form model into θ already canonical, in float64 where the backend
    /// keeps it: Γ from `canonicalPrecision` and λ as computed there (not recomputed from Γ, which
    /// would lose λ ≪ 1). Returns the canonical parameters (in the model's units) and λ, in
    /// float32, for the M-steps.
    /// `standardised`: the model is of the standardised data x' already (the DGMM's paths).
    public func loadCanonical(_ model: MixtureModel, standardised: Bool = false) throws -> (canonical: PrecisionParameters, eigenvalues: [Float]) {
        guard model.shape == shape else { throw MFAError.shapeMismatch("model is \(model.shape), engine is \(shape)") }
        let exact = try model.canonicalPrecision()
        if let bad = exact.eigenvalues.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw MFAError.numerical("component \(bad / max(shape.latent, 1)): its covariance is not finite and positive definite")
        }
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let (scale, origin) = standardised ? (1.0, [Double](repeating: 0, count: d)) : (Double(self.scale), self.origin.map(Double.init))
        var theta = [Double](repeating: 0, count: layout.count)
        for c in 0..<k {
            for j in 0..<d {
                theta[layout.means.lowerBound + c * d + j] = (Double(model.means[c * d + j]) - origin[j]) / scale
                theta[layout.logPrecision.lowerBound + c * d + j] = Foundation.log(exact.diagonal[c * d + j] * scale * scale)
                for i in 0..<l { theta[layout.loadings.lowerBound + (c * l + i) * d + j] = exact.gamma[(c * d + j) * l + i] * scale }
            }
            theta[layout.logits.lowerBound + c] = Foundation.log(Double(model.weights[c]))
        }
        try theta.withUnsafeBufferPointer { try backend.writeDoubles($0, to: parameters, offset: 0) }
        try exact.eigenvalues.withUnsafeBufferPointer {
            try backend.writeDoubles($0, to: components, offset: componentLayout.eigenvalues.lowerBound)
        }
        try backend.prepareComponents(parameters, components: components, shape: shape)
        // In the model's units: θ is in the data's, which a standardised model is not. Otherwise θ
        // as the backend holds it (float32, or float64 read as float32), without reading it back.
        let canonical = standardised
            ? PrecisionParameters(shape: shape, weights: model.weights, means: model.means,
                                  precisionDiagonal: exact.diagonal.map(Float.init), precisionLoadings: exact.gamma.map(Float.init))
            : unpack(theta.map(Float.init))
        return (canonical, exact.eigenvalues.map(Float.init))
    }

    /// Projects θ and derives the per-component quantities, reading nothing back (the clipped
    /// counts add up on the device until `drainClipped`).
    public func refresh(options: ProjectionOptions, firstMoment: B.Buffer?, secondMoment: B.Buffer?) throws {
        try backend.project(parameters, firstMoment: firstMoment, secondMoment: secondMoment,
                            components: components, shape: shape, options: options)
        try backend.prepareComponents(parameters, components: components, shape: shape)
    }

    /// The eigenvalues the projections clipped since the last call (NaN if a projection met a
    /// component whose M_k was not finite or, unfloored, not positive definite), and the counts reset.
    public func drainClipped() throws -> Double {
        let range = componentLayout.clipped
        let counts = try readDoubles(components, offset: range.lowerBound, count: range.count)
        try zeroClippedCounts()
        return counts.reduce(0, +)
    }

    /// θ read back, in the data's units.
    public func precisionParameters() throws -> PrecisionParameters {
        var theta = [Float](repeating: 0, count: layout.count)
        try theta.withUnsafeMutableBufferPointer { try backend.read(parameters, offset: 0, into: $0) }
        return unpack(theta)
    }

    func pack(_ model: PrecisionParameters) -> [Float] {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        var theta = [Float](repeating: 0, count: layout.count)
        for c in 0..<k {
            for j in 0..<d {
                theta[layout.means.lowerBound + c * d + j] = (model.means[c * d + j] - origin[j]) / scale
                theta[layout.logPrecision.lowerBound + c * d + j] = Foundation.log(model.precisionDiagonal[c * d + j] * scale * scale)
                for i in 0..<l {
                    theta[layout.loadings.lowerBound + (c * l + i) * d + j] = model.precisionLoadings[(c * d + j) * l + i] * scale
                }
            }
            theta[layout.logits.lowerBound + c] = Foundation.log(model.weights[c])
        }
        return theta
    }

    func unpack(_ theta: [Float]) -> PrecisionParameters {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        var means = [Float](repeating: 0, count: k * d)
        var diagonal = means
        var gamma = [Float](repeating: 0, count: k * d * l)
        for c in 0..<k {
            for j in 0..<d {
                means[c * d + j] = theta[layout.means.lowerBound + c * d + j] * scale + origin[j]
                diagonal[c * d + j] = Foundation.exp(theta[layout.logPrecision.lowerBound + c * d + j]) / (scale * scale)
                for i in 0..<l {
                    gamma[(c * d + j) * l + i] = theta[layout.loadings.lowerBound + (c * l + i) * d + j] / scale
                }
            }
        }
        // A starved component's weight can underflow float32; keep it positive so the model stays valid.
        let weights = softmax(Array(theta[layout.logits])).map { max(Float($0), .leastNormalMagnitude) }
        return PrecisionParameters(shape: shape, weights: weights, means: means,
                                   precisionDiagonal: diagonal, precisionLoadings: gamma)
    }

    // MARK: Passes

    /// Copies the given rows of `data`, standardised, into the batch buffer.
    public func loadBatch<S: SampleSource, C: Collection<Int>>(_ data: S, rows indices: C) throws {
        let d = shape.dimension
        guard data.columns == d else {
            throw MFAError.shapeMismatch("data have \(data.columns) columns, the model has d = \(d)")
        }
        guard indices.count <= capacity else {
            throw MFAError.invalidArgument("batch of \(indices.count) rows exceeds capacity \(capacity)")
        }
        let inverseScale = 1 / scale
        try staging.withUnsafeMutableBufferPointer { target in
            var out = 0
            for index in indices {
                let row = target.baseAddress! + out
                try data.copyRow(index, into: row)
                for j in 0..<d { row[j] = (row[j] - origin[j]) * inverseScale }
                out += d
            }
        }
        rows = indices.count
        if backend.keepsDoubles {
            // Standardised in float64 from the raw rows: float32 would round x' before the passes.
            var wide = [Double](repeating: 0, count: rows * d)
            try wide.withUnsafeMutableBufferPointer { target in
                for (n, index) in indices.enumerated() {
                    let row = target.baseAddress! + n * d
                    try data.copyRow(index, intoDoubles: row)
                    for j in 0..<d { row[j] = (row[j] - Double(origin[j])) / Double(scale) }
                }
            }
            try wide.withUnsafeBufferPointer { try backend.writeDoubles($0, to: batch, offset: 0) }
            return
        }
        try staging.withUnsafeBufferPointer {
            try backend.write(UnsafeBufferPointer(rebasing: $0[0..<(rows * d)]), to: batch, offset: 0)
        }
    }

    /// Log-densities and responsibilities of the current batch (DESIGN.md §2): two GEMMs and the
    /// combining kernel.
    public func forward() throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        try backend.expandBatch(batch, rows: rows, dimension: d, into: expanded)
        try backend.gemm(MatrixProduct(transposeB: true, m: rows, n: k, k: 2 * d, lda: 2 * d,
                                       bOffset: componentLayout.quadratic.lowerBound, ldb: 2 * d, ldc: k),
                         a: expanded, b: components, c: quadratic)
        if l > 0 {
            try backend.gemm(MatrixProduct(transposeB: true, m: rows, n: k * l, k: d, lda: d,
                                           bOffset: layout.loadings.lowerBound, ldb: d, ldc: k * l),
                             a: batch, b: parameters, c: latents)
        }
        try backend.logLikelihoods(quadratic: quadratic, latents: latents, components: components, shape: shape,
                                   rows: rows, logDensity: logDensity, responsibilities: responsibilities)
    }

    /// The gradient of −mean log p over the current batch, after `forward`: the batch sums and the
    /// assembling kernel. Returns the buffer that holds it (θ's layout).
    public func backward() throws -> B.Buffer {
        _ = try batchSums(scale: 1 / Float(rows))
        return try assembleGradient()
    }

    /// The gradient of −mean log p from the batch sums in the scratch buffers (`batchSums` or
    /// `writeSums`), assembled on the device. Returns the buffer that holds it (θ's layout).
    func assembleGradient() throws -> B.Buffer {
        let work = try gradientWork.get()
        try backend.assembleGradient(parameters, components: components, crossSums: work.crossSums,
                                     squareSums: work.squareSums, columnTotals: work.columnTotals, shape: shape,
                                     into: work.gradient)
        return work.gradient
    }

    /// One optimizer step from the batch sums in the scratch buffers: the gradient, `update`, the
    /// projection and the derived quantities (`Backend.updateStep`, which a backend may fuse).
    func step(_ update: OptimizerUpdate, projection: ProjectionOptions, firstMoment: B.Buffer, secondMoment: B.Buffer?) throws {
        let work = try gradientWork.get()
        try backend.updateStep(parameters, components: components,
                               sums: BatchSums(crossSums: work.crossSums, squareSums: work.squareSums, columnTotals: work.columnTotals),
                               gradient: work.gradient, update: update, firstMoment: firstMoment, secondMoment: secondMoment,
                               shape: shape, projection: projection)
    }

    /// The GEMM-shaped sums of the current batch, after `forward`, with w = scale·r (DESIGN.md §2):
    /// crossSums = [w∘Z | w]ᵀ·X [K(l+1), d], squareSums = wᵀ·(X∘X) [K, d], columnTotals = Σ_n [w∘Z | w].
    func batchSums(scale: Float) throws -> GradientBuffers<B> {
        let work = try gradientWork.get()
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let width = k * (l + 1)
        try backend.weightLatents(responsibilities: responsibilities, latents: latents, shape: shape, rows: rows,
                                  scale: scale, into: work.weighted)
        try backend.gemm(MatrixProduct(transposeA: true, m: width, n: d, k: rows, lda: width, ldb: d, ldc: d),
                         a: work.weighted, b: batch, c: work.crossSums)
        try backend.gemm(MatrixProduct(transposeA: true, m: k, n: d, k: rows, aOffset: k * l, lda: width,
                                       ldb: 2 * d, ldc: d),
                         a: work.weighted, b: expanded, c: work.squareSums)
        try backend.columnSums(work.weighted, rows: rows, columns: width, into: work.columnTotals)
        return work
    }

    /// Adds the current pass's gradient sums (w = scale·r, scale = 1/rows of its global batch) to
    /// `sums` in float64: one chunk of a batch shared among processes (`BatchShare`).
    func addGradientSums(into sums: inout EMStatistics, scale: Float) throws {
        let work = try batchSums(scale: scale)
        try sums.add(crossSums: readDoubles(work.crossSums, count: sums.cross.count),
                     squareSums: readDoubles(work.squareSums, count: sums.squares.count),
                     columnTotals: readDoubles(work.columnTotals, count: sums.totals.count), secondMoments: nil)
    }

    /// Puts a global batch's sums (added up across processes) into the scratch buffers, where
    /// `assembleGradient` and `step` take them.
    func writeSums(_ sums: EMStatistics) throws {
        let work = try gradientWork.get()
        for (values, buffer) in [(sums.cross, work.crossSums), (sums.squares, work.squareSums), (sums.totals, work.columnTotals)] {
            try values.withUnsafeBufferPointer { try backend.writeDoubles($0, to: buffer, offset: 0) }
        }
    }

    /// Adds the current batch's EM statistics (after `forward`) to `statistics`.
    func accumulate(into statistics: inout EMStatistics) throws {
        let work = try batchSums(scale: 1)
        try backend.latentSecondMoments(responsibilities: responsibilities, latents: latents, shape: shape, rows: rows,
                                        into: work.secondMoments)
        try statistics.add(crossSums: readDoubles(work.crossSums, count: statistics.cross.count),
                           squareSums: readDoubles(work.squareSums, count: statistics.squares.count),
                           columnTotals: readDoubles(work.columnTotals, count: statistics.totals.count),
                           secondMoments: readDoubles(work.secondMoments, count: statistics.secondMoments.count))
    }

    /// λ, the eigenvalues of every M_k as the last projection left them, [K, l].
    public func readEigenvalues() throws -> [Float] {
        try read(components, offset: componentLayout.eigenvalues.lowerBound, count: componentLayout.eigenvalues.count)
    }

    func readDoubles(_ buffer: B.Buffer, offset: Int = 0, count: Int) throws -> [Double] {
        var out = [Double](repeating: 0, count: count)
        try out.withUnsafeMutableBufferPointer { try backend.readDoubles(buffer, offset: offset, into: $0) }
        return out
    }

    func read(_ buffer: B.Buffer, offset: Int = 0, count: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: count)
        try out.withUnsafeMutableBufferPointer { try backend.read(buffer, offset: offset, into: $0) }
        return out
    }

    /// Floating-point work of one forward pass over `rows` samples, in the two GEMMs.
    public static func forwardFlops(shape: MixtureShape, rows: Int) -> Double {
        2 * Double(rows) * Double(shape.dimension) * Double(shape.components) * Double(shape.latent + 2)
    }

    /// The current batch's log-densities in the data's units: log p(x) = log p'(x') − d log s.
    public func readLogDensity() throws -> [Double] {
        let jacobian = Double(shape.dimension) * Foundation.log(Double(scale))
        return try readDoubles(logDensity, count: rows).map { $0 - jacobian }
    }

    /// Adds the current batch's log-likelihood (after `forward`) to the device's tally.
    public func tallyBatch() throws {
        try backend.tallyLogDensity(logDensity, rows: rows, into: tally)
        tallyRows += rows
    }

    /// The summed log-likelihood of the batches tallied since the last call, in the data's
    /// units, and the tally reset: one read.
    public func drainLogLikelihood() throws -> Double {
        let sums = try readDoubles(tally, count: 2)
        let jacobian = Double(shape.dimension) * Foundation.log(Double(scale)) * Double(tallyRows)
        try zeroLogLikelihoodTally()
        return sums[0] - sums[1] - jacobian
    }

    /// Forgets what the tallies and clipped counts hold (a roll-back or a restored state).
    public func resetTallies() throws {
        try zeroLogLikelihoodTally()
        try zeroClippedCounts()
    }

    private func zeroLogLikelihoodTally() throws {
        tallyRows = 0
        try [Float](repeating: 0, count: 2).withUnsafeBufferPointer { try backend.write($0, to: tally, offset: 0) }
    }

    private func zeroClippedCounts() throws {
        try [Float](repeating: 0, count: componentLayout.clipped.count).withUnsafeBufferPointer {
            try backend.write($0, to: components, offset: componentLayout.clipped.lowerBound)
        }
    }

    /// The current batch's responsibilities, [rows, K].
    public func readResponsibilities() throws -> [Float] {
        try read(responsibilities, count: rows * shape.components)
    }
}

/// Scratch for the backward pass, made on first use (evaluation never needs it).
struct GradientBuffers<B: Backend> {
    let weighted: B.Buffer
    let crossSums: B.Buffer
    let squareSums: B.Buffer
    let columnTotals: B.Buffer
    let gradient: B.Buffer
    let secondMoments: B.Buffer

    init(backend: B, shape: MixtureShape, capacity: Int) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        weighted = try backend.makeBuffer(count: capacity * k * (l + 1))
        crossSums = try backend.makeBuffer(count: d * k * (l + 1))
        squareSums = try backend.makeBuffer(count: d * k)
        columnTotals = try backend.makeBuffer(count: k * (l + 1))
        gradient = try backend.makeBuffer(count: ParameterLayout(shape: shape).count)
        secondMoments = try backend.makeBuffer(count: max(k * l * l, 1))
    }
}

/// softmax in float64.
public func softmax<T: BinaryFloatingPoint>(_ logits: [T]) -> [Double] {
    let top = Double(logits.max() ?? 0)
    let exps = logits.map { Foundation.exp(Double($0) - top) }
    let total = exps.reduce(0, +)
    return exps.map { $0 / total }
}
