import Foundation
import MFA

/// The CPU's optimizer step, fused per component: component k's gradient is assembled into
/// per-thread scratch, its μ, a and Γ updated, projected and its constants derived while its
/// l×d block is in cache, so θ_k and its two moments pass through memory once per step, not five
/// times (the separate operations are memory-bound: README, "Speed"). Each stage is the function
/// the separate operations run (`CPUComponents.swift`), so the result is the same bit for bit.
extension CPUBackend {
    public var fusesUpdateStep: Bool { true }

    public func updateStep(_ parameters: CPUBuffer, components: CPUBuffer, sums: BatchSums<CPUBuffer>, gradient: CPUBuffer,
                           update: OptimizerUpdate, firstMoment: CPUBuffer, secondMoment: CPUBuffer?, shape: MixtureShape,
                           projection: ProjectionOptions) throws {
        // Fused: one rate per parameter group, noise tied within a component at most (shared noise
        // ties across components, between the update and the projection).
        guard projection.noise != .shared, let rates = Self.groupRates(update, ParameterLayout(shape: shape)) else {
            return try composedUpdateStep(parameters, components: components, sums: sums, gradient: gradient, update: update,
                                          firstMoment: firstMoment, secondMoment: secondMoment, shape: shape, projection: projection)
        }
        switch precision {
        case .single:
            try Self.fusedStep(parameters.values(Float.self), components.values(Float.self), sums.crossSums.values(Float.self),
                               sums.squareSums.values(Float.self), sums.columnTotals.values(Float.self),
                               firstMoment.values(Float.self), secondMoment?.values(Float.self), shape,
                               try OptimizerRule<Float>(update.rule, hasSecondMoment: secondMoment != nil), rates, projection)
        case .double:
            try Self.fusedStep(parameters.values(Double.self), components.values(Double.self), sums.crossSums.values(Double.self),
                               sums.squareSums.values(Double.self), sums.columnTotals.values(Double.self),
                               firstMoment.values(Double.self), secondMoment?.values(Double.self), shape,
                               try OptimizerRule<Double>(update.rule, hasSecondMoment: secondMoment != nil), rates, projection)
        }
    }

    /// The learning rate of each parameter group, when the update's segments are exactly the groups.
    static func groupRates(_ update: OptimizerUpdate, _ layout: ParameterLayout) -> [ParameterGroup: Float]? {
        guard update.segments.count == layout.groups.count else { return nil }
        var rates = [ParameterGroup: Float]()
        for ((group, range), segment) in zip(layout.groups, update.segments) {
            guard segment.range == range else { return nil }
            rates[group] = segment.learningRate
        }
        return rates
    }

    static func fusedStep<T: CPUScalar>(_ theta: UnsafeMutablePointer<T>, _ comp: UnsafeMutablePointer<T>,
                                        _ cross: UnsafeMutablePointer<T>, _ squares: UnsafeMutablePointer<T>,
                                        _ totals: UnsafeMutablePointer<T>, _ first: UnsafeMutablePointer<T>,
                                        _ second: UnsafeMutablePointer<T>?, _ shape: MixtureShape, _ rule: OptimizerRule<T>,
                                        _ rates: [ParameterGroup: Float], _ projection: ProjectionOptions) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        // The mixing logits first: their gradient W_k − π_k takes the old π, every component's
        // constants the new one.
        let logits = layout.logits.lowerBound
        let logitGradient = (0..<k).map { c in -(totals[k * l + c] - comp[cl.weights.lowerBound + c]) }
        logitGradient.withUnsafeBufferPointer {
            rule.apply(theta + logits, $0.baseAddress!, first + logits, second.map { $0 + logits }, count: k,
                       rate: T(rates[.logits]!))
        }
        let weights = softmax(layout.logits.map { theta[$0] })
        let blocks: [(group: ParameterGroup, at: (Int) -> Int, count: Int, scratchAt: Int)] = [
            (.means, { layout.means.lowerBound + $0 * d }, d, 0),
            (.logPrecision, { layout.logPrecision.lowerBound + $0 * d }, d, d),
            (.loadings, { layout.loadings.lowerBound + $0 * l * d }, l * d, 2 * d),
        ]
        try forEachChunk(of: k) { range in
            var scratch = ComponentScratch<T>(shape)
            for c in range {
                scratch.gradient.withUnsafeMutableBufferPointer { buffer in
                    let g = buffer.baseAddress!
                    assembleComponent(c, theta, comp, cross, squares, totals, shape, means: g, logPrecision: g + d,
                                      loadings: g + 2 * d)
                    for block in blocks where block.count > 0 {
                        let at = block.at(c)
                        rule.apply(theta + at, g + block.scratchAt, first + at, second.map { $0 + at }, count: block.count,
                                   rate: T(rates[block.group]!))
                    }
                }
                projectComponent(c, theta, first, second, comp, shape, projection, &scratch)
                prepareComponent(c, theta, comp, shape, weight: weights[c])
            }
        }
    }
}
