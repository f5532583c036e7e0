import Foundation
import MFA

/// The elementwise and reduction kernels of the Backend protocol, as plain loops.
extension CPUBackend {
    public func expandBatch(_ batch: CPUBuffer, rows: Int, dimension d: Int, into expanded: CPUBuffer) throws {
        let x = batch.pointer, out = expanded.pointer
        for n in 0..<rows {
            let source = x + n * d, target = out + n * 2 * d
            for j in 0..<d {
                let value = source[j]
                target[j] = value * value
                target[d + j] = value
            }
        }
    }

    public func logLikelihoods(quadratic: CPUBuffer, latents: CPUBuffer, components: CPUBuffer, shape: MixtureShape,
                               rows: Int, logDensity: CPUBuffer, responsibilities: CPUBuffer) throws {
        let (k, l) = (shape.components, shape.latent)
        let layout = ComponentLayout(shape: shape)
        let offsets = components.pointer + layout.offsets.lowerBound
        let shift = components.pointer + layout.latentShift.lowerBound
        for n in 0..<rows {
            let q = quadratic.pointer + n * k
            let z = latents.pointer + n * k * l
            let r = responsibilities.pointer + n * k
            var top = -Float.infinity
            for c in 0..<k {
                var norm: Float = 0
                for i in 0..<l {
                    let centred = z[c * l + i] - shift[c * l + i]
                    z[c * l + i] = centred
                    norm += centred * centred
                }
                let value = offsets[c] - 0.5 * q[c] + 0.5 * norm
                r[c] = value
                top = max(top, value)
            }
            var total = 0.0
            for c in 0..<k { total += Double(Foundation.exp(r[c] - top)) }
            let logSum = top + Float(Foundation.log(total))
            logDensity.pointer[n] = logSum
            for c in 0..<k { r[c] = Foundation.exp(r[c] - logSum) }
        }
    }

    public func weightLatents(responsibilities: CPUBuffer, latents: CPUBuffer, shape: MixtureShape, rows: Int,
                              scale: Float, into weighted: CPUBuffer) throws {
        let (k, l) = (shape.components, shape.latent)
        let width = k * (l + 1)
        for n in 0..<rows {
            let r = responsibilities.pointer + n * k
            let z = latents.pointer + n * k * l
            let y = weighted.pointer + n * width
            for c in 0..<k {
                let w = scale * r[c]
                for i in 0..<l { y[c * l + i] = w * z[c * l + i] }
                y[k * l + c] = w
            }
        }
    }

    public func columnSums(_ matrix: CPUBuffer, rows: Int, columns: Int, into totals: CPUBuffer) throws {
        let out = totals.pointer
        out.update(repeating: 0, count: columns)
        for n in 0..<rows {
            let row = matrix.pointer + n * columns
            for c in 0..<columns { out[c] += row[c] }
        }
    }

    public func assembleGradient(_ parameters: CPUBuffer, components: CPUBuffer, crossSums: CPUBuffer,
                                 squareSums: CPUBuffer, columnTotals: CPUBuffer, shape: MixtureShape,
                                 into gradient: CPUBuffer) throws {
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let kl = k * l, width = k * (l + 1)
        let layout = ParameterLayout(shape: shape), cl = ComponentLayout(shape: shape)
        let theta = parameters.pointer, g = gradient.pointer, comp = components.pointer
        let totals = columnTotals.pointer
        for j in 0..<d {
            let cross = crossSums.pointer + j * width
            let gammaRow = theta + layout.loadings.lowerBound + j * kl
            let scaledRow = comp + cl.scaledLoadings.lowerBound + j * kl
            let gradientRow = g + layout.loadings.lowerBound + j * kl
            for c in 0..<k {
                let index = c * d + j
                let mu = Double(theta[layout.means.lowerBound + index])
                let e = Double(Foundation.exp(theta[layout.logPrecision.lowerBound + index]))
                let w = Double(totals[kl + c])
                let s1 = Double(cross[kl + c])
                let s2 = Double(squareSums.pointer[j * k + c])
                let leverage = Double(comp[cl.leverage.lowerBound + index])
                var loadingTerm = 0.0
                for i in 0..<l {
                    let t = totals[c * l + i]
                    loadingTerm += Double(gammaRow[c * l + i]) * Double(t)
                    // ∂L/∂Γ = −(Σ w δ zᵀ − W E⁻¹ Γ M⁻¹)
                    gradientRow[c * l + i] = -(cross[c * l + i] - Float(mu) * t - Float(w) * scaledRow[c * l + i])
                }
                // ∂L/∂μ = −(E Σ w δ − Γ Σ w z)
                g[layout.means.lowerBound + index] = Float(-(e * (s1 - w * mu) - loadingTerm))
                // ∂L/∂a = −e·½(W/e + W h/e² − Σ w δ²)
                let squaredDeviation = s2 - 2 * mu * s1 + w * mu * mu
                g[layout.logPrecision.lowerBound + index] = Float(-0.5 * (w + w * leverage / e - e * squaredDeviation))
            }
        }
        for c in 0..<k {
            g[layout.logits.lowerBound + c] = -(totals[kl + c] - comp[cl.weights.lowerBound + c])
        }
    }

    public func applyUpdate(_ update: OptimizerUpdate, parameters: CPUBuffer, gradient: CPUBuffer,
                            firstMoment: CPUBuffer, secondMoment: CPUBuffer?) throws {
        let theta = parameters.pointer, g = gradient.pointer, m = firstMoment.pointer
        switch update.rule {
        case .adam(let beta1, let beta2, let epsilon, let step):
            guard let v = secondMoment?.pointer else {
                throw MFAError.invalidArgument("Adam needs a second-moment buffer")
            }
            let correction1 = 1 - Foundation.pow(beta1, Float(step))
            let correction2 = 1 - Foundation.pow(beta2, Float(step))
            for (range, rate) in update.segments {
                for p in range {
                    m[p] = beta1 * m[p] + (1 - beta1) * g[p]
                    v[p] = beta2 * v[p] + (1 - beta2) * g[p] * g[p]
                    theta[p] -= rate * (m[p] / correction1) / ((v[p] / correction2).squareRoot() + epsilon)
                }
            }
        case .momentum(let momentum):
            for (range, rate) in update.segments {
                for p in range {
                    m[p] = momentum * m[p] + g[p]
                    theta[p] -= rate * m[p]
                }
            }
        }
    }
}
