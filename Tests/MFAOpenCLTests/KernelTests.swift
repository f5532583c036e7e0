import Foundation
import MFA
import MFACPU
import MFAOpenCL
import Testing

/// The same values in a CPU buffer and an OpenCL buffer.
struct Twin {
    let cpu: CPUBuffer
    let gpu: OpenCLBuffer
    let count: Int

    init(_ values: [Float], on gpuBackend: OpenCLBackend) throws {
        count = values.count
        cpu = try CPUBackend().makeBuffer(count: values.count)
        gpu = try gpuBackend.makeBuffer(count: values.count)
        try values.withUnsafeBufferPointer {
            try CPUBackend().write($0, to: cpu, offset: 0)
            try gpuBackend.write($0, to: gpu, offset: 0)
        }
    }

    func expectEqual(_ gpuBackend: OpenCLBackend, atol: Float = 1e-5, rtol: Float = 1e-4, _ what: String) throws {
        expectClose(try read(gpuBackend, gpu, count: count), Array(UnsafeBufferPointer(start: cpu.pointer, count: count)),
                    atol: atol, rtol: rtol, what)
    }
}

/// Each kernel on tiny inputs against the CPU backend's plain loop. Small enough for Oclgrind
/// (`make oclgrind`), with K and rows that are not multiples of any work-group size. On the main
/// actor: Oclgrind's checkers keep per-thread state and crash when API calls move between threads.
extension OpenCL { @Suite @MainActor struct KernelTests {
    let shape = try! MixtureShape(components: 3, dimension: 5, latent: 2)
    let rows = 4

    func values(_ count: Int, seed: UInt64, low: Double = -1, high: Double = 1) -> [Float] {
        var random = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Float(low + (high - low) * random.uniform()) }
    }

    /// A component buffer whose quadratic rows (e) and eigenvalues are positive, as the kernels expect.
    func componentValues(seed: UInt64, shape: MixtureShape? = nil) -> [Float] {
        let shape = shape ?? self.shape
        let cl = ComponentLayout(shape: shape)
        var comp = values(cl.count, seed: seed)
        for c in 0..<shape.components { for j in 0..<shape.dimension { comp[c * 2 * shape.dimension + j] = 0.5 + abs(comp[c * 2 * shape.dimension + j]) } }
        for p in cl.eigenvalues { comp[p] = 0.2 + abs(comp[p]) }
        return comp
    }

    @Test("expand_batch") func expandBatch() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let x = try Twin(values(rows * 5, seed: 1), on: gpu), out = try Twin(values(rows * 10, seed: 2), on: gpu)
        try cpu.expandBatch(x.cpu, rows: rows, dimension: 5, into: out.cpu)
        try gpu.expandBatch(x.gpu, rows: rows, dimension: 5, into: out.gpu)
        try out.expectEqual(gpu, "expanded")
    }

    @Test("log_likelihoods") func logLikelihoods() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let (k, l) = (shape.components, shape.latent)
        let q = try Twin(values(rows * k, seed: 3, low: 0, high: 10), on: gpu)
        let z = try Twin(values(rows * k * l, seed: 4), on: gpu)
        let comp = try Twin(componentValues(seed: 5), on: gpu)
        let logDensity = try Twin(values(rows, seed: 6), on: gpu), r = try Twin(values(rows * k, seed: 7), on: gpu)
        try cpu.logLikelihoods(quadratic: q.cpu, latents: z.cpu, components: comp.cpu, shape: shape, rows: rows,
                               logDensity: logDensity.cpu, responsibilities: r.cpu)
        try gpu.logLikelihoods(quadratic: q.gpu, latents: z.gpu, components: comp.gpu, shape: shape, rows: rows,
                               logDensity: logDensity.gpu, responsibilities: r.gpu)
        try z.expectEqual(gpu, "centred latents")
        try logDensity.expectEqual(gpu, "log-densities")
        try r.expectEqual(gpu, "responsibilities")
    }

    @Test("weight_latents, column_sums and latent_second_moments") func weightAndSum() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let (k, l) = (shape.components, shape.latent)
        let r = try Twin(values(rows * k, seed: 8, low: 0, high: 1), on: gpu), z = try Twin(values(rows * k * l, seed: 9), on: gpu)
        let weighted = try Twin(values(rows * k * (l + 1), seed: 10), on: gpu), totals = try Twin(values(k * (l + 1), seed: 11), on: gpu)
        try cpu.weightLatents(responsibilities: r.cpu, latents: z.cpu, shape: shape, rows: rows, scale: 0.25, into: weighted.cpu)
        try gpu.weightLatents(responsibilities: r.gpu, latents: z.gpu, shape: shape, rows: rows, scale: 0.25, into: weighted.gpu)
        try weighted.expectEqual(gpu, "weighted latents")
        try cpu.columnSums(weighted.cpu, rows: rows, columns: k * (l + 1), into: totals.cpu)
        try gpu.columnSums(weighted.gpu, rows: rows, columns: k * (l + 1), into: totals.gpu)
        try totals.expectEqual(gpu, "column sums")
        let moments = try Twin(values(k * l * l, seed: 30), on: gpu)
        try cpu.latentSecondMoments(responsibilities: r.cpu, latents: z.cpu, shape: shape, rows: rows, into: moments.cpu)
        try gpu.latentSecondMoments(responsibilities: r.gpu, latents: z.gpu, shape: shape, rows: rows, into: moments.gpu)
        try moments.expectEqual(gpu, "latent second moments")
    }

    @Test("assemble_gradient") func assembleGradient() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        let theta = try Twin(values(ParameterLayout(shape: shape).count, seed: 12), on: gpu)
        let comp = try Twin(componentValues(seed: 13), on: gpu)
        let cross = try Twin(values(k * (l + 1) * d, seed: 14), on: gpu), square = try Twin(values(k * d, seed: 15, low: 0, high: 2), on: gpu)
        let totals = try Twin(values(k * (l + 1), seed: 16, low: 0, high: 1), on: gpu)
        let gradient = try Twin(values(ParameterLayout(shape: shape).count, seed: 17), on: gpu)
        try cpu.assembleGradient(theta.cpu, components: comp.cpu, crossSums: cross.cpu, squareSums: square.cpu,
                                 columnTotals: totals.cpu, shape: shape, into: gradient.cpu)
        try gpu.assembleGradient(theta.gpu, components: comp.gpu, crossSums: cross.gpu, squareSums: square.gpu,
                                 columnTotals: totals.gpu, shape: shape, into: gradient.gpu)
        try gradient.expectEqual(gpu, "gradient")
    }

    @Test("adam_update and momentum_update") func optimizerUpdates() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let n = 37
        for rule in [OptimizerUpdate.Rule.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, step: 3), .momentum(0.9)] {
            let theta = try Twin(values(n, seed: 18), on: gpu), g = try Twin(values(n, seed: 19), on: gpu)
            let m = try Twin(values(n, seed: 20), on: gpu), v = try Twin(values(n, seed: 21, low: 0, high: 1), on: gpu)
            let update = OptimizerUpdate(rule: rule, segments: [(0..<10, 0.1), (10..<n, 0.01)])
            try cpu.applyUpdate(update, parameters: theta.cpu, gradient: g.cpu, firstMoment: m.cpu, secondMoment: v.cpu)
            try gpu.applyUpdate(update, parameters: theta.gpu, gradient: g.gpu, firstMoment: m.gpu, secondMoment: v.gpu)
            try theta.expectEqual(gpu, "θ after \(rule)")
            try m.expectEqual(gpu, "first moment after \(rule)")
            try v.expectEqual(gpu, "second moment after \(rule)")
        }
    }

    @Test("tie_isotropic, tie_shared, clip_log_precision, inner_matrices, project_components and rotate_loadings (the projection)",
          arguments: NoiseStructure.allCases, [2, 7, 17])
    func projection(noise: NoiseStructure, latent: Int) throws {
        // l = 7: odd, so each round has a bye; l = 17: more (pair, row) updates than work-items.
        let gpu = try device.get(), cpu = CPUBackend()
        let shape = try MixtureShape(components: 3, dimension: 2 * latent + 1, latent: latent)
        let layout = ParameterLayout(shape: shape)
        var thetaValues = values(layout.count, seed: 22)
        for p in layout.loadings { thetaValues[p] *= 0.9 }  // some M_k indefinite, some not
        let theta = try Twin(thetaValues, on: gpu), comp = try Twin(componentValues(seed: 23, shape: shape), on: gpu)
        let m = try Twin(values(layout.count, seed: 24), on: gpu), v = try Twin(values(layout.count, seed: 25, low: 0, high: 1), on: gpu)
        let options = ProjectionOptions(eigenvalueFloor: 1e-2, logPrecisionRange: -0.5...0.5, noise: noise)
        let counts = ComponentLayout(shape: shape).clipped
        let before = counts.reduce(Float(0)) { $0 + comp.cpu.pointer[$1] }
        try cpu.project(theta.cpu, firstMoment: m.cpu, secondMoment: v.cpu, components: comp.cpu, shape: shape, options: options)
        try gpu.project(theta.gpu, firstMoment: m.gpu, secondMoment: v.gpu, components: comp.gpu, shape: shape, options: options)
        #expect(counts.reduce(Float(0)) { $0 + comp.cpu.pointer[$1] } > before, "some eigenvalues clipped")
        try theta.expectEqual(gpu, atol: 1e-4, rtol: 1e-3, "θ after the projection")
        try m.expectEqual(gpu, atol: 1e-4, rtol: 1e-3, "first moment after the projection")
        try v.expectEqual(gpu, atol: 1e-4, rtol: 1e-3, "second moment after the projection")
        try comp.expectEqual(gpu, atol: 1e-4, rtol: 1e-3, "eigenvalues")
    }

    @Test("tally_log_density: Kahan-compensated batch sums, and a NaN density poisons the tally")
    func tallyLogDensity() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let densities = try Twin(values(77, seed: 40, low: -3000, high: 2000), on: gpu)
        let tally = try Twin([0, 0], on: gpu)
        for _ in 0..<3 {
            try cpu.tallyLogDensity(densities.cpu, rows: 77, into: tally.cpu)
            try gpu.tallyLogDensity(densities.gpu, rows: 77, into: tally.gpu)
        }
        try tally.expectEqual(gpu, atol: 1e-3, rtol: 1e-6, "tally")
        let exact = 3 * (0..<77).reduce(0.0) { $0 + Double(densities.cpu.pointer[$1]) }
        let held = try read(gpu, tally.gpu, count: 2)
        #expect(abs(Double(held[0]) - Double(held[1]) - exact) < 1e-3 * abs(exact) / 1e4, "\(held) vs \(exact)")
        let poisoned = try Twin([1, .nan, 2], on: gpu)
        try gpu.tallyLogDensity(poisoned.gpu, rows: 3, into: tally.gpu)
        #expect(!(try read(gpu, tally.gpu, count: 2)[0]).isFinite)
    }

    @Test("prepare_rows and prepare_constants") func prepareComponents() throws {
        let gpu = try device.get(), cpu = CPUBackend()
        let theta = try Twin(values(ParameterLayout(shape: shape).count, seed: 26), on: gpu)
        let comp = try Twin(componentValues(seed: 27), on: gpu)
        try cpu.prepareComponents(theta.cpu, components: comp.cpu, shape: shape)
        try gpu.prepareComponents(theta.gpu, components: comp.gpu, shape: shape)
        try comp.expectEqual(gpu, atol: 1e-4, rtol: 1e-4, "components")
    }
} }
