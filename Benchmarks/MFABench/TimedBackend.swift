import Foundation
import MFA

/// A Backend that forwards every call to `base` and adds up the wall time spent in each
/// operation, to attribute a training step's time to GEMMs and kernels.
/// `synchronise` waits for the device after each operation, so asynchronous backends are timed
/// too; the step totals are measured with it off.
public final class TimedBackend<Base: Backend>: Backend {
    public typealias Buffer = Base.Buffer
    let base: Base
    let wait: () throws -> Void
    public var synchronise = false
    public private(set) var seconds: [String: Double] = [:]

    public init(_ base: Base, wait: @escaping () throws -> Void = {}) {
        self.base = base
        self.wait = wait
    }

    public var name: String { base.name }

    public func reset() { seconds = [:] }

    private func timed<T>(_ label: String, _ body: () throws -> T) throws -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        if synchronise { try wait() }
        seconds[label, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return result
    }

    public func makeBuffer(count: Int) throws -> Buffer { try base.makeBuffer(count: count) }
    public func write(_ values: UnsafeBufferPointer<Float>, to buffer: Buffer, offset: Int) throws {
        try timed("write") { try base.write(values, to: buffer, offset: offset) }
    }
    public func read(_ buffer: Buffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws {
        try timed("read") { try base.read(buffer, offset: offset, into: values) }
    }
    public func gemm(_ product: MatrixProduct, a: Buffer, b: Buffer, c: Buffer) throws {
        try timed("gemm") { try base.gemm(product, a: a, b: b, c: c) }
    }
    public func expandBatch(_ batch: Buffer, rows: Int, dimension: Int, into expanded: Buffer) throws {
        try timed("expandBatch") { try base.expandBatch(batch, rows: rows, dimension: dimension, into: expanded) }
    }
    public func project(_ parameters: Buffer, firstMoment: Buffer?, secondMoment: Buffer?, components: Buffer,
                 shape: MixtureShape, options: ProjectionOptions) throws {
        try timed("project") {
            try base.project(parameters, firstMoment: firstMoment, secondMoment: secondMoment, components: components,
                             shape: shape, options: options)
        }
    }
    public func prepareComponents(_ parameters: Buffer, components: Buffer, shape: MixtureShape) throws {
        try timed("prepareComponents") { try base.prepareComponents(parameters, components: components, shape: shape) }
    }
    public func logLikelihoods(quadratic: Buffer, latents: Buffer, components: Buffer, shape: MixtureShape, rows: Int,
                        logDensity: Buffer, responsibilities: Buffer) throws {
        try timed("logLikelihoods") {
            try base.logLikelihoods(quadratic: quadratic, latents: latents, components: components, shape: shape,
                                    rows: rows, logDensity: logDensity, responsibilities: responsibilities)
        }
    }
    public func weightLatents(responsibilities: Buffer, latents: Buffer, shape: MixtureShape, rows: Int, scale: Float,
                       into weighted: Buffer) throws {
        try timed("weightLatents") {
            try base.weightLatents(responsibilities: responsibilities, latents: latents, shape: shape, rows: rows,
                                   scale: scale, into: weighted)
        }
    }
    public func updateStep(_ parameters: Buffer, components: Buffer, sums: BatchSums<Buffer>, gradient: Buffer,
                           update: OptimizerUpdate, firstMoment: Buffer, secondMoment: Buffer?, shape: MixtureShape,
                           projection: ProjectionOptions) throws {
        guard base.fusesUpdateStep else {
            // Its four operations, each timed.
            return try composedUpdateStep(parameters, components: components, sums: sums, gradient: gradient, update: update,
                                          firstMoment: firstMoment, secondMoment: secondMoment, shape: shape, projection: projection)
        }
        try timed("updateStep (fused)") {
            try base.updateStep(parameters, components: components, sums: sums, gradient: gradient, update: update,
                                firstMoment: firstMoment, secondMoment: secondMoment, shape: shape, projection: projection)
        }
    }
    public func tallyLogDensity(_ logDensity: Buffer, rows: Int, into tally: Buffer) throws {
        try timed("tallyLogDensity") { try base.tallyLogDensity(logDensity, rows: rows, into: tally) }
    }
    public func columnSums(_ matrix: Buffer, rows: Int, columns: Int, into totals: Buffer) throws {
        try timed("columnSums") { try base.columnSums(matrix, rows: rows, columns: columns, into: totals) }
    }
    public func latentSecondMoments(responsibilities: Buffer, latents: Buffer, shape: MixtureShape, rows: Int,
                             into moments: Buffer) throws {
        try timed("latentSecondMoments") {
            try base.latentSecondMoments(responsibilities: responsibilities, latents: latents, shape: shape, rows: rows,
                                         into: moments)
        }
    }
    public func assembleGradient(_ parameters: Buffer, components: Buffer, crossSums: Buffer, squareSums: Buffer,
                          columnTotals: Buffer, shape: MixtureShape, into gradient: Buffer) throws {
        try timed("assembleGradient") {
            try base.assembleGradient(parameters, components: components, crossSums: crossSums, squareSums: squareSums,
                                      columnTotals: columnTotals, shape: shape, into: gradient)
        }
    }
    public func applyUpdate(_ update: OptimizerUpdate, parameters: Buffer, gradient: Buffer, firstMoment: Buffer,
                     secondMoment: Buffer?) throws {
        try timed("applyUpdate") {
            try base.applyUpdate(update, parameters: parameters, gradient: gradient, firstMoment: firstMoment,
                                 secondMoment: secondMoment)
        }
    }
}
