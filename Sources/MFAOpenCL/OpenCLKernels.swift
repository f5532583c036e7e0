import Foundation
import MFA

/// The named operations of the Backend protocol as launches of `Kernels/mfa.cl`.
extension OpenCLBackend {
    public func expandBatch(_ batch: OpenCLBuffer, rows: Int, dimension d: Int, into expanded: OpenCLBuffer) throws {
        try launch(.expandBatch, global: [d, rows], [.buffer(batch), .int(d), .buffer(expanded)])
    }

    public func logLikelihoods(quadratic: OpenCLBuffer, latents: OpenCLBuffer, components: OpenCLBuffer, shape: MixtureShape,
                               rows: Int, logDensity: OpenCLBuffer, responsibilities: OpenCLBuffer) throws {
        let cl = ComponentLayout(shape: shape)
        try launch(.logLikelihoods, global: [rows * reductionSize], local: [reductionSize],
                   [.buffer(quadratic), .buffer(latents), .buffer(components), .int(shape.components), .int(shape.latent),
                    .int(cl.offsets.lowerBound), .int(cl.latentShift.lowerBound), .buffer(logDensity),
                    .buffer(responsibilities), .local(reductionSize * MemoryLayout<Float>.size)])
    }

    public func weightLatents(responsibilities: OpenCLBuffer, latents: OpenCLBuffer, shape: MixtureShape, rows: Int,
                              scale: Float, into weighted: OpenCLBuffer) throws {
        try launch(.weightLatents, global: [shape.latent + 1, shape.components, rows],
                   [.buffer(responsibilities), .buffer(latents), .int(shape.components), .int(shape.latent),
                    .float(scale), .buffer(weighted)])
    }

    public func columnSums(_ matrix: OpenCLBuffer, rows: Int, columns: Int, into totals: OpenCLBuffer) throws {
        let tile = 16  // TILE in mfa.cl
        try launch(.columnSums, global: [(columns + tile - 1) / tile * tile, tile], local: [tile, tile],
                   [.buffer(matrix), .int(rows), .int(columns), .buffer(totals)])
    }

    public func latentSecondMoments(responsibilities: OpenCLBuffer, latents: OpenCLBuffer, shape: MixtureShape,
                                    rows: Int, into moments: OpenCLBuffer) throws {
        guard shape.latent > 0 else { return }
        try launch(.latentSecondMoments, global: [reductionSize, shape.latent, shape.components], local: [reductionSize, 1, 1],
                   [.buffer(responsibilities), .buffer(latents), .int(shape.components), .int(shape.latent), .int(rows),
                    .buffer(moments), .local(reductionSize * shape.latent * MemoryLayout<Float>.size)])
    }

    public func assembleGradient(_ parameters: OpenCLBuffer, components: OpenCLBuffer, crossSums: OpenCLBuffer,
                                 squareSums: OpenCLBuffer, columnTotals: OpenCLBuffer, shape: MixtureShape,
                                 into gradient: OpenCLBuffer) throws {
        let cl = ComponentLayout(shape: shape)
        try launch(.assembleGradient, global: [shape.dimension, shape.components],
                   [.buffer(parameters), .buffer(components), .buffer(crossSums), .buffer(squareSums), .buffer(columnTotals),
                    .int(shape.components), .int(shape.dimension), .int(shape.latent)] + thetaOffsets(shape)
                   + [.int(cl.quadratic.lowerBound), .int(cl.leverage.lowerBound),
                    .int(cl.eigenvalues.lowerBound), .int(cl.weights.lowerBound), .buffer(gradient)])
    }

    public func applyUpdate(_ update: OptimizerUpdate, parameters: OpenCLBuffer, gradient: OpenCLBuffer,
                            firstMoment: OpenCLBuffer, secondMoment: OpenCLBuffer?) throws {
        for (range, rate) in update.segments {
            switch update.rule {
            case .adam(let beta1, let beta2, let epsilon, let step):
                guard let secondMoment else { throw MFAError.invalidArgument("Adam needs a second-moment buffer") }
                try launch(.adamUpdate, global: [range.count],
                           [.buffer(parameters), .buffer(gradient), .buffer(firstMoment), .buffer(secondMoment),
                            .int(range.lowerBound), .float(rate), .float(beta1), .float(beta2), .float(epsilon),
                            .float(1 / (1 - pow(beta1, Float(step)))), .float(1 / (1 - pow(beta2, Float(step))))])
            case .momentum(let momentum):
                try launch(.momentumUpdate, global: [range.count],
                           [.buffer(parameters), .buffer(gradient), .buffer(firstMoment), .int(range.lowerBound),
                            .float(rate), .float(momentum)])
            }
        }
    }

    /// The whole projection on the device, nothing read back: clipping, M_k (`inner_matrices`),
    /// the eigendecompositions and clipping of λ (`project_components`, the host's
    /// `ProjectionPlan` step for step, a work-group per component), and the rotations.
    public func project(_ parameters: OpenCLBuffer, firstMoment: OpenCLBuffer?, secondMoment: OpenCLBuffer?,
                        components: OpenCLBuffer, shape: MixtureShape, options: ProjectionOptions) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        guard l <= Self.maxLatent else {
            throw MFAError.invalidArgument("the OpenCL backend supports l ≤ \(Self.maxLatent) (got \(l))")
        }
        switch options.noise {
        case .diagonal: break
        case .isotropic: try launch(.tieIsotropic, global: [k], [.buffer(parameters), .int(k), .int(d), .int(layout.logPrecision.lowerBound)])
        case .shared: try launch(.tieShared, global: [d], [.buffer(parameters), .int(k), .int(d), .int(layout.logPrecision.lowerBound)])
        }
        try launch(.clipLogPrecision, global: [k * d],
                   [.buffer(parameters), .int(layout.logPrecision.lowerBound), .float(options.logPrecisionRange.lowerBound),
                    .float(options.logPrecisionRange.upperBound)])
        guard l > 0 else { return }
        let realFloats = realBytes / MemoryLayout<Float>.size
        let inner = try scratchBuffer("inner", count: k * l * l * realFloats)
        let vectors = try scratchBuffer("vectors", count: k * l * l * realFloats)
        let rotations = try scratchBuffer("rotations", count: k * l * l)
        let squaredRotations = try scratchBuffer("squared rotations", count: k * l * l)
        try launch(.innerMatrices, global: [reductionSize, l, k], local: [reductionSize, 1, 1],
                   [.buffer(parameters), .int(k), .int(d), .int(l), .int(layout.logPrecision.lowerBound),
                    .int(layout.loadings.lowerBound), .buffer(inner), .local(reductionSize * l * realBytes)])
        try launch(.projectComponents, global: [k * reductionSize], local: [reductionSize],
                   [.buffer(inner), .buffer(vectors), .buffer(rotations), .buffer(squaredRotations), .buffer(components), .int(k), .int(l),
                    .int(cl.eigenvalues.lowerBound), .int(cl.clipped.lowerBound), .float(Float(options.eigenvalueFloor))])
        for (buffer, rotation) in [(parameters, rotations), (firstMoment, rotations), (secondMoment, squaredRotations)] {
            guard let buffer else { continue }
            try launch(.rotateLoadings, global: [d, k],
                       [.buffer(buffer), .int(layout.loadings.lowerBound), .buffer(rotation), .int(d), .int(l)])
        }
    }

    public func tallyLogDensity(_ logDensity: OpenCLBuffer, rows: Int, into tally: OpenCLBuffer) throws {
        try launch(.tallyLogDensity, global: [reductionSize], local: [reductionSize],
                   [.buffer(logDensity), .int(rows), .buffer(tally), .local(reductionSize * realBytes)])
    }

    public func prepareComponents(_ parameters: OpenCLBuffer, components: OpenCLBuffer, shape: MixtureShape) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let cl = ComponentLayout(shape: shape)
        try launch(.prepareRows, global: [d, k],
                   [.buffer(parameters), .buffer(components), .int(k), .int(d), .int(l)] + thetaOffsets(shape)
                   + [.int(cl.quadratic.lowerBound), .int(cl.leverage.lowerBound),
                      .int(cl.eigenvalues.lowerBound)])
        try launch(.prepareConstants, global: [k * reductionSize], local: [reductionSize],
                   [.buffer(parameters), .buffer(components), .int(k), .int(d), .int(l)] + thetaOffsets(shape)
                   + [.int(cl.offsets.lowerBound),
                    .int(cl.latentShift.lowerBound), .int(cl.weights.lowerBound), .int(cl.eigenvalues.lowerBound),
                    .local(reductionSize * realBytes)])
    }

    /// θ's group offsets as the kernels take them (means, log-precision, loadings, logits): the
    /// one definition is `ParameterLayout`, so a layout change reaches the kernels.
    func thetaOffsets(_ shape: MixtureShape) -> [Argument] {
        let layout = ParameterLayout(shape: shape)
        return [layout.means, layout.logPrecision, layout.loadings, layout.logits].map { .int($0.lowerBound) }
    }
}
