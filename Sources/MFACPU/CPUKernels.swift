import Foundation
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif
import MFA

/// The elementwise and reduction kernels of the Backend protocol, as plain loops, written once for
/// both precisions (`CPUScalar`); each public method picks the backend's.
extension CPUBackend {
    public func expandBatch(_ batch: CPUBuffer, rows: Int, dimension d: Int, into expanded: CPUBuffer) throws {
        switch precision {
        case .single: try Self.expandBatch(batch.values(Float.self), rows: rows, d: d, into: expanded.values(Float.self))
        case .double: try Self.expandBatch(batch.values(Double.self), rows: rows, d: d, into: expanded.values(Double.self))
        }
    }

    static func expandBatch<T: CPUScalar>(_ x: UnsafeMutablePointer<T>, rows: Int, d: Int, into out: UnsafeMutablePointer<T>) throws {
        try forEachChunk(of: rows, minimumChunk: 16) { range in for n in range {
            let source = x + n * d, target = out + n * 2 * d
            for j in 0..<d {
                let value = source[j]
                target[j] = value * value
                target[d + j] = value
            }
        } }
    }

    public func logLikelihoods(quadratic: CPUBuffer, latents: CPUBuffer, components: CPUBuffer, shape: MixtureShape,
                               rows: Int, logDensity: CPUBuffer, responsibilities: CPUBuffer) throws {
        switch precision {
        case .single:
            try Self.logLikelihoods(quadratic.values(Float.self), latents.values(Float.self), components.values(Float.self), shape,
                                    rows, logDensity.values(Float.self), responsibilities.values(Float.self))
        case .double:
            try Self.logLikelihoods(quadratic.values(Double.self), latents.values(Double.self), components.values(Double.self), shape,
                                    rows, logDensity.values(Double.self), responsibilities.values(Double.self))
        }
    }

    static func logLikelihoods<T: CPUScalar>(_ quadratic: UnsafeMutablePointer<T>, _ latents: UnsafeMutablePointer<T>,
                                             _ components: UnsafeMutablePointer<T>, _ shape: MixtureShape, _ rows: Int,
                                             _ logDensity: UnsafeMutablePointer<T>, _ responsibilities: UnsafeMutablePointer<T>) throws {
        let (k, l) = (shape.components, shape.latent)
        let layout = ComponentLayout(shape: shape)
        let offsets = components + layout.offsets.lowerBound
        let shift = components + layout.latentShift.lowerBound
        try forEachChunk(of: rows, minimumChunk: 16) { range in for n in range {
            let q = quadratic + n * k
            let z = latents + n * k * l
            let r = responsibilities + n * k
            var top = -T.infinity
            for c in 0..<k {
                var norm: T = 0
                for i in 0..<l {
                    let centred = z[c * l + i] - shift[c * l + i]
                    z[c * l + i] = centred
                    norm += centred * centred
                }
                let value = offsets[c] - 0.5 * q[c] + 0.5 * norm
                r[c] = value
                top = max(top, value)
            }
            // One exponential per entry (libmvec's lanes), then normalised: exp(ℓ − top)/Σ.
            for c in 0..<k { r[c] -= top }
            T.exponentials(r, factor: 1, into: r, count: k)
            var total = 0.0
            for c in 0..<k { total += Double(r[c]) }
            logDensity[n] = top + T(Foundation.log(total))
            let inverse = T(1 / total)
            for c in 0..<k { r[c] *= inverse }
        } }
    }

    public func weightLatents(responsibilities: CPUBuffer, latents: CPUBuffer, shape: MixtureShape, rows: Int,
                              scale: Float, into weighted: CPUBuffer) throws {
        switch precision {
        case .single:
            try Self.weightLatents(responsibilities.values(Float.self), latents.values(Float.self), shape, rows, scale,
                                   weighted.values(Float.self))
        case .double:
            try Self.weightLatents(responsibilities.values(Double.self), latents.values(Double.self), shape, rows, Double(scale),
                                   weighted.values(Double.self))
        }
    }

    static func weightLatents<T: CPUScalar>(_ responsibilities: UnsafeMutablePointer<T>, _ latents: UnsafeMutablePointer<T>,
                                            _ shape: MixtureShape, _ rows: Int, _ scale: T, _ weighted: UnsafeMutablePointer<T>) throws {
        let (k, l) = (shape.components, shape.latent)
        let width = k * (l + 1)
        try forEachChunk(of: rows, minimumChunk: 16) { range in for n in range {
            let r = responsibilities + n * k
            let z = latents + n * k * l
            let y = weighted + n * width
            for c in 0..<k {
                let w = scale * r[c]
                for i in 0..<l { y[c * l + i] = w * z[c * l + i] }
                y[k * l + c] = w
            }
        } }
    }

    public func tallyLogDensity(_ logDensity: CPUBuffer, rows: Int, into tally: CPUBuffer) throws {
        switch precision {
        case .single: Self.tallyLogDensity(logDensity.values(Float.self), rows, tally.values(Float.self))
        case .double: Self.tallyLogDensity(logDensity.values(Double.self), rows, tally.values(Double.self))
        }
    }

    /// The batch summed in float64, then added to the tally with Kahan's compensation in two
    /// parts (its value in T and the remainder), as the kernel does.
    static func tallyLogDensity<T: CPUScalar>(_ logDensity: UnsafeMutablePointer<T>, _ rows: Int, _ tally: UnsafeMutablePointer<T>) {
        var batch = 0.0
        for n in 0..<rows { batch += Double(logDensity[n]) }
        let high = T(batch)
        for part in [high, T(batch - Double(high))] {
            let y = part - tally[1]
            let t = tally[0] + y
            tally[1] = (t - tally[0]) - y
            tally[0] = t
        }
    }

    public func columnSums(_ matrix: CPUBuffer, rows: Int, columns: Int, into totals: CPUBuffer) throws {
        switch precision {
        case .single: try Self.columnSums(matrix.values(Float.self), rows, columns, totals.values(Float.self))
        case .double: try Self.columnSums(matrix.values(Double.self), rows, columns, totals.values(Double.self))
        }
    }

    /// Split by columns (each summed in row order, so the same sums on any number of cores): one
    /// thread took 1.9 ms per step at K = 2000 (22,000 columns).
    static func columnSums<T: CPUScalar>(_ matrix: UnsafeMutablePointer<T>, _ rows: Int, _ columns: Int,
                                         _ out: UnsafeMutablePointer<T>) throws {
        try forEachChunk(of: columns, minimumChunk: 1024) { range in
            (out + range.lowerBound).update(repeating: 0, count: range.count)
            for n in 0..<rows {
                let row = matrix + n * columns
                for c in range { out[c] += row[c] }
            }
        }
    }

    /// Rows in blocks of 256, each block's sums over all components in its own slot, the slots
    /// added in block order: contiguous reads, and the same sums whatever the number of cores.
    public func latentSecondMoments(responsibilities: CPUBuffer, latents: CPUBuffer, shape: MixtureShape, rows: Int,
                                    into moments: CPUBuffer) throws {
        switch precision {
        case .single:
            try Self.latentSecondMoments(responsibilities.values(Float.self), latents.values(Float.self), shape, rows,
                                         moments.values(Float.self))
        case .double:
            try Self.latentSecondMoments(responsibilities.values(Double.self), latents.values(Double.self), shape, rows,
                                         moments.values(Double.self))
        }
    }

    static func latentSecondMoments<T: CPUScalar>(_ responsibilities: UnsafeMutablePointer<T>, _ latents: UnsafeMutablePointer<T>,
                                                  _ shape: MixtureShape, _ rows: Int, _ out: UnsafeMutablePointer<T>) throws {
        let (k, l) = (shape.components, shape.latent)
        let block = 256, blocks = (rows + block - 1) / block, size = k * l * l
        let partial = UnsafeMutableBufferPointer<T>.allocate(capacity: max(blocks * size, 1))
        defer { partial.deallocate() }
        try forEachChunk(of: blocks) { range in
            for b in range {
                let slot = partial.baseAddress! + b * size
                slot.update(repeating: 0, count: size)
                for n in (b * block)..<min((b + 1) * block, rows) {
                    for c in 0..<k {
                        let r = responsibilities[n * k + c]
                        guard r != 0 else { continue }  // underflowed: adds nothing
                        let z = latents + (n * k + c) * l, o = slot + c * l * l
                        for a in 0..<l {
                            let rza = r * z[a]
                            for q in 0..<l { o[a * l + q] += rza * z[q] }
                        }
                    }
                }
            }
        }
        out.update(repeating: 0, count: size)
        for b in 0..<blocks {
            for p in 0..<size { out[p] += partial[b * size + p] }
        }
    }

    public func assembleGradient(_ parameters: CPUBuffer, components: CPUBuffer, crossSums: CPUBuffer,
                                 squareSums: CPUBuffer, columnTotals: CPUBuffer, shape: MixtureShape,
                                 into gradient: CPUBuffer) throws {
        switch precision {
        case .single:
            try Self.assembleGradient(parameters.values(Float.self), components.values(Float.self), crossSums.values(Float.self),
                                      squareSums.values(Float.self), columnTotals.values(Float.self), shape, gradient.values(Float.self))
        case .double:
            try Self.assembleGradient(parameters.values(Double.self), components.values(Double.self), crossSums.values(Double.self),
                                      squareSums.values(Double.self), columnTotals.values(Double.self), shape, gradient.values(Double.self))
        }
    }

    static func assembleGradient<T: CPUScalar>(_ theta: UnsafeMutablePointer<T>, _ comp: UnsafeMutablePointer<T>,
                                               _ cross: UnsafeMutablePointer<T>, _ squareSums: UnsafeMutablePointer<T>,
                                               _ totals: UnsafeMutablePointer<T>, _ shape: MixtureShape,
                                               _ g: UnsafeMutablePointer<T>) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        try forEachChunk(of: k) { range in
            for c in range {
                assembleComponent(c, theta, comp, cross, squareSums, totals, shape, means: g + layout.means.lowerBound + c * d,
                                  logPrecision: g + layout.logPrecision.lowerBound + c * d,
                                  loadings: g + layout.loadings.lowerBound + c * l * d)
                g[layout.logits.lowerBound + c] = -(totals[k * l + c] - comp[cl.weights.lowerBound + c])
            }
        }
    }

    public func applyUpdate(_ update: OptimizerUpdate, parameters: CPUBuffer, gradient: CPUBuffer,
                            firstMoment: CPUBuffer, secondMoment: CPUBuffer?) throws {
        switch precision {
        case .single:
            try Self.applyUpdate(update, parameters.values(Float.self), gradient.values(Float.self), firstMoment.values(Float.self),
                                 secondMoment?.values(Float.self))
        case .double:
            try Self.applyUpdate(update, parameters.values(Double.self), gradient.values(Double.self), firstMoment.values(Double.self),
                                 secondMoment?.values(Double.self))
        }
    }

    static func applyUpdate<T: CPUScalar>(_ update: OptimizerUpdate, _ theta: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>,
                                          _ m: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>?) throws {
        let rule = try OptimizerRule<T>(update.rule, hasSecondMoment: v != nil)
        for (range, rate) in update.segments {
            try forEachChunk(of: range.count, minimumChunk: 1 << 14) { chunk in
                let base = range.lowerBound + chunk.lowerBound
                rule.apply(theta + base, g + base, m + base, v.map { $0 + base }, count: chunk.count, rate: T(rate))
            }
        }
    }
}

/// An optimizer rule with its per-step constants, applied to contiguous ranges of θ.
struct OptimizerRule<T: CPUScalar> {
    enum Kind { case adam, momentum }
    let kind: Kind
    let beta1: T, beta2: T, epsilon: T, inverseCorrection1: T, inverseCorrection2: T, momentum: T

    init(_ rule: OptimizerUpdate.Rule, hasSecondMoment: Bool) throws {
        switch rule {
        case .adam(let beta1, let beta2, let epsilon, let step):
            guard hasSecondMoment else { throw MFAError.invalidArgument("Adam needs a second-moment buffer") }
            kind = .adam
            (self.beta1, self.beta2, self.epsilon) = (T(beta1), T(beta2), T(epsilon))
            inverseCorrection1 = 1 / (1 - T.power(T(beta1), T(step)))
            inverseCorrection2 = 1 / (1 - T.power(T(beta2), T(step)))
            momentum = 0
        case .momentum(let momentum):
            kind = .momentum
            self.momentum = T(momentum)
            (beta1, beta2, epsilon, inverseCorrection1, inverseCorrection2) = (0, 0, 0, 1, 1)
        }
    }

    @inline(__always)
    func apply(_ theta: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ first: UnsafeMutablePointer<T>,
               _ second: UnsafeMutablePointer<T>?, count: Int, rate: T) {
        switch kind {
        case .adam:
            var done = 0
            if T.self == Float.self {
                // Eight lanes at a time: the compiler leaves this loop scalar (the four pointers may
                // alias), and its square roots and divisions are most of the fused step's time.
                done = adamLanes(theta, g, first, second!, count: count, rate: rate)
            }
            OptimizerStep.adam(theta + done, gradient: g + done, first: first + done, second: second! + done, count: count - done,
                               rate: rate, beta1: beta1, beta2: beta2, epsilon: epsilon, inverseCorrection1: inverseCorrection1,
                               inverseCorrection2: inverseCorrection2)
        case .momentum:
            OptimizerStep.momentum(theta, gradient: g, velocity: first, count: count, rate: rate, momentum: momentum)
        }
    }

    /// `OptimizerStep.adam` on whole groups of eight float32 values, lane by lane the same
    /// arithmetic (so the same bits); returns how many values it updated.
    private func adamLanes(_ theta: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ first: UnsafeMutablePointer<T>,
                           _ second: UnsafeMutablePointer<T>, count: Int, rate: T) -> Int {
        typealias Lanes = SIMD8<Float>
        let (b1, b2, e) = (Lanes(repeating: Float(beta1)), Lanes(repeating: Float(beta2)), Lanes(repeating: Float(epsilon)))
        let (c1, c2) = (Lanes(repeating: Float(inverseCorrection1)), Lanes(repeating: Float(inverseCorrection2)))
        let (r, one) = (Lanes(repeating: Float(rate)), Lanes(repeating: 1))
        let whole = count / 8 * 8
        for p in stride(from: 0, to: whole, by: 8) {
            let gradient = UnsafeRawPointer(g + p).loadUnaligned(as: Lanes.self)
            let m = b1 * UnsafeRawPointer(first + p).loadUnaligned(as: Lanes.self) + (one - b1) * gradient
            let v = b2 * UnsafeRawPointer(second + p).loadUnaligned(as: Lanes.self) + (one - b2) * gradient * gradient
            let t = UnsafeRawPointer(theta + p).loadUnaligned(as: Lanes.self) - r * (m * c1) / (laneSquareRoot(v * c2) + e)
            UnsafeMutableRawPointer(first + p).storeBytes(of: m, as: Lanes.self)
            UnsafeMutableRawPointer(second + p).storeBytes(of: v, as: Lanes.self)
            UnsafeMutableRawPointer(theta + p).storeBytes(of: t, as: Lanes.self)
        }
        return whole
    }
}

/// √x lane by lane, correctly rounded as `Float.squareRoot()` is. `SIMD8.squareRoot()` calls libm's
/// `sqrtf` once per lane (with its errno check): a quarter of the fused step's time at K = 500.
@inline(__always) func laneSquareRoot(_ x: SIMD8<Float>) -> SIMD8<Float> {
    #if arch(x86_64)
    let low = _mm_sqrt_ps(x.lowHalf), high = _mm_sqrt_ps(x.highHalf)
    return SIMD8(lowHalf: low, highHalf: high)
    #else
    return x.squareRoot()
    #endif
}
