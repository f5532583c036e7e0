import Foundation
import MFA
import MFACPU
import MFAOpenCL
import Testing

/// One OpenCL backend for the whole suite: the program and CLBlast's kernels compile once, and
/// the suite runs serialized because a cl_kernel's arguments are not thread-safe. It compiles
/// from source (no program cache): the kernel tests check what the compiler made of mfa.cl.
let device = Result { try OpenCLBackend(cache: nil) }
/// The same device with no float64 in any kernel (`--opencl-fp32`): the path of devices without cl_khr_fp64.
let float32Device = Result { try OpenCLBackend(cache: nil, float32: true) }

func randomModel(_ shape: MixtureShape, seed: UInt64) throws -> MixtureModel {
    var random = RandomGenerator(seed: seed)
    let (k, d, l) = (shape.components, shape.dimension, shape.latent)
    let weights = (0..<k).map { _ in Float(0.5 + random.uniform()) }
    let total = weights.reduce(0, +)
    return try MixtureModel(shape: shape, weights: weights.map { $0 / total },
                            means: (0..<(k * d)).map { _ in Float(random.normal()) },
                            loadings: (0..<(k * d * l)).map { _ in Float(0.4 * random.normal()) },
                            noiseVariances: (0..<(k * d)).map { _ in Float(0.3 + random.uniform()) })
}

func randomData(rows: Int, columns: Int, seed: UInt64) throws -> Matrix {
    var random = RandomGenerator(seed: seed)
    return try Matrix(rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in Float(1.5 * random.normal()) })
}

func read<B: Backend>(_ backend: B, _ buffer: B.Buffer, count: Int) throws -> [Float] {
    var values = [Float](repeating: 0, count: count)
    try values.withUnsafeMutableBufferPointer { try backend.read(buffer, offset: 0, into: $0) }
    return values
}

/// |a − b| ≤ atol + rtol·|b| everywhere, reporting the worst place.
func expectClose(_ a: [Float], _ b: [Float], atol: Float, rtol: Float, _ what: String) {
    #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) values")
    var worst = (index: -1, excess: Float(0))
    for index in a.indices where index < b.count {
        let excess = abs(a[index] - b[index]) - (atol + rtol * abs(b[index]))
        if excess > worst.excess || !a[index].isFinite { worst = (index, excess.isNaN ? .infinity : excess) }
    }
    #expect(worst.index < 0, "\(what): element \(worst.index): \(worst.index >= 0 ? a[worst.index] : 0) vs \(worst.index >= 0 ? b[worst.index] : 0)")
}

/// All OpenCL suites nest in one serialized suite: kernels' arguments are per-backend state, and
/// Oclgrind does not survive concurrent use.
@Suite(.serialized) struct OpenCL {}

extension OpenCL { @Suite struct ParityTests {
    /// Shapes with l = 0, odd d, K not a multiple of the work-group size, partial batches.
    static let cases: [(k: Int, d: Int, l: Int, rows: Int)] = [(1, 5, 0, 7), (3, 9, 2, 33), (7, 16, 4, 64), (70, 13, 3, 100), (5, 31, 1, 1)]

    @Test("Log-likelihoods, responsibilities, gradients and an optimizer step equal the CPU backend's, with float64 constants and float32 only",
          arguments: cases.indices, [false, true])
    func stepMatchesCPU(index: Int, float32: Bool) throws {
        let gpu = try (float32 ? float32Device : device).get()
        #expect(gpu.usesDoublePrecision == !float32 || !gpu.device.hasDoublePrecision)
        let (k, d, l, rows) = Self.cases[index]
        let shape = try MixtureShape(components: k, dimension: d, latent: l)
        let model = try randomModel(shape, seed: UInt64(index))
        let data = try randomData(rows: rows, columns: d, seed: 50 + UInt64(index))
        var options = TrainingOptions()
        options.batchSize = rows
        let cpuSession = try SGDStrategy(backend: CPUBackend(), start: try model.precisionParameters(), data: data,
                                        options: options, totalSteps: 100)
        let gpuSession = try SGDStrategy(backend: gpu, start: try model.precisionParameters(), data: data,
                                        options: options, totalSteps: 100)
        let layout = ParameterLayout(shape: shape)
        expectClose(try read(gpu, gpuSession.engine.parameters, count: layout.count),
                    try read(cpuSession.engine.backend, cpuSession.engine.parameters, count: layout.count),
                    atol: 1e-5, rtol: 1e-4, "θ after loading and projecting")
        try cpuSession.engine.loadBatch(data, rows: 0..<rows)
        try gpuSession.engine.loadBatch(data, rows: 0..<rows)
        try cpuSession.engine.forward()
        try gpuSession.engine.forward()
        expectClose(try gpuSession.engine.readLogDensity().map(Float.init), try cpuSession.engine.readLogDensity().map(Float.init),
                    atol: 2e-3, rtol: 1e-5, "log-densities")
        expectClose(try gpuSession.engine.readResponsibilities(), try cpuSession.engine.readResponsibilities(),
                    atol: 1e-4, rtol: 1e-3, "responsibilities")
        let cpuGradient = try read(cpuSession.engine.backend, try cpuSession.engine.backward(), count: layout.count)
        let gpuGradient = try read(gpu, try gpuSession.engine.backward(), count: layout.count)
        let scale = cpuGradient.map(abs).max() ?? 1
        expectClose(gpuGradient, cpuGradient, atol: 1e-4 * scale, rtol: 1e-3, "gradient")
        // One whole optimizer step (forward, backward, Adam, projection) from the same state.
        try cpuSession.step()
        try gpuSession.step()
        expectClose(try read(gpu, gpuSession.engine.parameters, count: layout.count),
                    try read(cpuSession.engine.backend, cpuSession.engine.parameters, count: layout.count),
                    atol: 1e-4, rtol: 1e-3, "θ after one step")
    }

    @Test("An SGD step reads nothing back from the device; settling reads the tallies once, and they equal the CPU's")
    func stepsReadNothing() throws {
        let gpu = try device.get()
        let shape = try MixtureShape(components: 6, dimension: 12, latent: 3)
        let model = try randomModel(shape, seed: 11)
        let data = try randomData(rows: 200, columns: 12, seed: 12)
        var options = TrainingOptions()
        options.batchSize = 40
        options.eigenvalueFloor = 0.995  // every step clips: the counts must reach settle
        let strategies = (cpu: try SGDStrategy(backend: CPUBackend(), start: try model.precisionParameters(), data: data,
                                               options: options, totalSteps: 100),
                          gpu: try SGDStrategy(backend: gpu, start: try model.precisionParameters(), data: data,
                                               options: options, totalSteps: 100))
        func steps<B: Backend>(_ strategy: SGDStrategy<B>) throws {
            for batch in 0..<5 {
                try strategy.engine.loadBatch(data, rows: (batch * 40)..<((batch + 1) * 40))
                try strategy.beginBatch(BatchShare(rows: 40, whole: true))
                #expect(try strategy.accumulate() == 0)
                #expect(try strategy.update(reducer: SingleProcess()) == 0)
            }
        }
        try steps(strategies.cpu)
        let before = gpu.blockingReads
        try steps(strategies.gpu)
        #expect(gpu.blockingReads == before, "\(gpu.blockingReads - before) blocking reads in 5 steps")
        let (cpuSettled, gpuSettled) = (try strategies.cpu.settle(), try strategies.gpu.settle())
        #expect(gpu.blockingReads == before + 2, "settling reads the log-likelihood tally and the clipped counts")
        #expect(abs(cpuSettled.logLikelihood - gpuSettled.logLikelihood) < 1e-3 * abs(cpuSettled.logLikelihood))
        #expect(cpuSettled.clipped == gpuSettled.clipped && cpuSettled.clipped > 0)
        // The tally holds the five batches' log-likelihoods before each step: what the forward passes give.
        let again = try strategies.gpu.settle()
        #expect(again.logLikelihood == 0 && again.clipped == 0)
    }

    @Test("A short training run from the same seed ends with nearly the same model")
    func trainingMatchesCPU() throws {
        let gpu = try device.get()
        let shape = try MixtureShape(components: 3, dimension: 8, latent: 2)
        var random = RandomGenerator(seed: 3)
        let truth = try randomModel(shape, seed: 9)
        let train = truth.sample(count: 1500, random: &random).samples
        let test = truth.sample(count: 500, random: &random).samples
        var options = TrainingOptions()
        options.epochs = 3
        options.batchSize = 100
        let cpuModel = try SGDTrainer(backend: CPUBackend(), options: options).train(train, components: 3, latent: 2).covarianceModel()
        let gpuModel = try SGDTrainer(backend: gpu, options: options).train(train, components: 3, latent: 2).covarianceModel()
        let cpuScore = try cpuModel.engine(backend: CPUBackend()).meanLogLikelihood(test)
        let gpuScore = try gpuModel.engine(backend: gpu).meanLogLikelihood(test)
        #expect(abs(cpuScore - gpuScore) < 1e-3, "CPU \(cpuScore) vs OpenCL \(gpuScore)")
    }

    @Test("EM iterations on OpenCL give the CPU backend's model")
    func emMatchesCPU() throws {
        let gpu = try device.get()
        let shape = try MixtureShape(components: 3, dimension: 8, latent: 2)
        var random = RandomGenerator(seed: 4)
        let data = try randomModel(shape, seed: 10).sample(count: 700, random: &random).samples
        let start = try randomModel(shape, seed: 11)
        let cpuSession = try EMStrategy(backend: CPUBackend(), start: start, data: data, batchSize: 200, minVariance: 1e-3)
        let gpuSession = try EMStrategy(backend: gpu, start: start, data: data, batchSize: 200, minVariance: 1e-3)
        for _ in 0..<3 {
            let (cpuScore, gpuScore) = (try cpuSession.iterate(), try gpuSession.iterate())
            #expect(abs(cpuScore - gpuScore) < 1e-3, "CPU \(cpuScore) vs OpenCL \(gpuScore)")
        }
        expectClose(gpuSession.model.noiseVariances, cpuSession.model.noiseVariances, atol: 1e-4, rtol: 1e-3, "ψ after 3 iterations")
        expectClose(gpuSession.model.means, cpuSession.model.means, atol: 1e-4, rtol: 1e-3, "μ after 3 iterations")
    }

    @Test("A DGMM's loss and layer gradients on OpenCL equal the CPU backend's, and so does its training")
    func dgmmMatchesCPU() throws {
        let gpu = try device.get()
        let shape = try DGMMShape(dimension: 7, components: [3, 2], latent: [4, 2])
        var random = RandomGenerator(seed: 12)
        let truth = try DGMMSimulation.model(shape, separation: 2, random: &random)
        let data = try truth.sample(count: 300, random: &random).samples
        let start = try DGMMSimulation.model(shape, separation: 1, random: &random)
        let (cpuLoss, cpuGradient) = try start.lossGradient(data, backend: CPUBackend())
        let (gpuLoss, gpuGradient) = try start.lossGradient(data, backend: gpu)
        #expect(abs(cpuLoss - gpuLoss) < 1e-4 * abs(cpuLoss), "CPU \(cpuLoss) vs OpenCL \(gpuLoss)")
        for (cpu, opencl) in zip(cpuGradient, gpuGradient) {
            for field in [\DGMMLayerParameters.logits, \.means, \.loadings, \.logNoise] {
                let scale = cpu[keyPath: field].map(abs).max()!
                expectClose(opencl[keyPath: field].map(Float.init), cpu[keyPath: field].map(Float.init),
                            atol: Float(2e-3 * scale), rtol: 2e-3, "DGMM gradient")
            }
        }
        var options = TrainingOptions()
        options.epochs = 3
        options.batchSize = 100
        let cpuFit = try DGMMTrainer(backend: CPUBackend(), options: options).train(data, shape: shape)
        let gpuFit = try DGMMTrainer(backend: gpu, options: options).train(data, shape: shape)
        #expect(abs(cpuFit.logLikelihood - gpuFit.logLikelihood) < 1e-3 * abs(cpuFit.logLikelihood),
                "CPU \(cpuFit.logLikelihood) vs OpenCL \(gpuFit.logLikelihood)")
    }
} }

extension OpenCL { @Suite struct ErrorTests {
    @Test("A kernel source that does not compile throws with the compiler's log")
    func brokenKernelThrowsWithLog() throws {
        _ = try device.get()
        do {
            _ = try OpenCLBackend(source: "__kernel void expand_batch(__global float* x) { x[0] = undefined_name; }")
            Issue.record("a broken kernel built")
        } catch let error as MFAError {
            guard case .device(let message) = error else { Issue.record("unexpected \(error)"); return }
            #expect(message.contains("did not build") && message.contains("undefined_name"))
        }
    }

    @Test("A kernel source that lacks one of the kernels fails when the backend opens, naming it")
    func missingKernelFailsAtStartUp() throws {
        _ = try device.get()
        let source = KernelSources.mfa.replacingOccurrences(of: "__kernel void tie_shared(", with: "__kernel void tie_shared_renamed(")
        #expect(source != KernelSources.mfa)
        do {
            _ = try OpenCLBackend(source: source)
            Issue.record("a backend without tie_shared opened")
        } catch let error as MFAError {
            #expect("\(error)".contains("no kernel 'tie_shared'"), "\(error)")
        }
    }

    @Test("An allocation larger than the device allows throws a clear error")
    func hugeAllocationThrows() throws {
        let gpu = try device.get()
        #expect(throws: MFAError.self) { _ = try gpu.makeBuffer(count: Int(gpu.device.maxAllocation / 4) + 1) }
    }

    @Test("Allocations beyond the device's memory are refused clearly, and freed memory is reusable")
    func deviceMemoryIsAccounted() throws {
        let gpu = try device.get()
        let chunk = Int(min(gpu.device.maxAllocation, gpu.device.globalMemory / 3) / 4)
        var held = [OpenCLBuffer]()
        do {
            for _ in 0..<4 { held.append(try gpu.makeBuffer(count: chunk)) }
            Issue.record("four buffers of a third of the device memory each were allocated")
        } catch let error as MFAError {
            guard case .device(let message) = error else { Issue.record("unexpected \(error)"); return }
            #expect(message.contains("out of device memory"))
        }
        held.removeAll()
        _ = try gpu.makeBuffer(count: chunk)
    }

    @Test("A device index that does not exist throws a clear error")
    func missingDeviceThrows() throws {
        #expect(throws: MFAError.self) { _ = try OpenCLBackend(device: 999) }
    }
} }

@Suite struct ProgramCacheTests {
    @Test("A program cached on disk loads instead of compiling and computes the same; a corrupt cache file is rebuilt")
    func programCache() throws {
        let directory = NSTemporaryDirectory() + "mfa-program-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = ProgramCache(directory: directory)
        let model = try randomModel(try MixtureShape(components: 3, dimension: 8, latent: 2), seed: 5)
        let data = try randomData(rows: 64, columns: 8, seed: 6)
        func scores(_ backend: OpenCLBackend) throws -> [Double] { try model.engine(backend: backend, batchSize: 64).evaluate(data).logDensity }
        let compiled = try OpenCLBackend(cache: cache)
        #expect(!compiled.programFromCache)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        try #require(files.count == 1 && files[0].hasSuffix(".clbin"), "\(files)")
        let loaded = try OpenCLBackend(cache: cache)
        #expect(loaded.programFromCache)
        #expect(try scores(compiled) == scores(loaded))
        try Data("not a program".utf8).write(to: URL(fileURLWithPath: directory + "/" + files[0]))
        let rebuilt = try OpenCLBackend(cache: cache)
        #expect(!rebuilt.programFromCache)
        #expect(try OpenCLBackend(cache: cache).programFromCache, "the rebuilt program was written back")
        #expect(try scores(rebuilt) == scores(compiled))
    }
}

@Suite struct KernelProfileTests {
    @Test("--profile: a profiling backend counts every launch and GEMM of a forward pass, with device times")
    func profileCountsLaunches() throws {
        let backend = try OpenCLBackend(cache: nil, profile: true)
        let model = try randomModel(try MixtureShape(components: 3, dimension: 8, latent: 2), seed: 5)
        let engine = try model.engine(backend: backend, batchSize: 64)
        try engine.loadBatch(try randomData(rows: 64, columns: 8, seed: 6), rows: 0..<64)
        for _ in 0..<3 { try engine.forward() }
        let lines = try #require(backend.profile).report()
        #expect(lines.contains { $0.hasPrefix("log_likelihoods") && $0.contains(" 3 calls") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("gemm (CLBlast)") && $0.contains(" 6 calls") }, "\(lines)")
        #expect(try OpenCLBackend(cache: nil).profile == nil)
    }
}
