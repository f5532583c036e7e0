import CCLBlast
import COpenCL
import Foundation
import MFA

/// The Backend on OpenCL: buffers on one device, the kernels of `Kernels/mfa.cl` for the named
/// operations and CLBlast for the GEMMs, all on one in-order queue. A training step reads nothing
/// back (the projection's eigensolver runs on the device; the log-likelihood and clipped counts
/// are tallied there until the loop settles); writes go through two staging slots.
public final class OpenCLBackend: Backend, @unchecked Sendable {
    public typealias Buffer = OpenCLBuffer

    public let device: OpenCLDevice
    let context: cl_context
    var queue: cl_command_queue?
    let program: cl_program
    /// Every kernel of `Kernel`, built at start-up.
    let kernels: [Kernel: cl_kernel]
    /// The largest l the kernels keep in registers.
    public static let maxLatent = 64
    /// Work-group size of the reduction kernels (a power of two the device allows).
    let reductionSize: Int
    /// Scratch buffers of the projection, by purpose, grown on demand.
    var scratch: [String: OpenCLBuffer] = [:]
    let ledger: MemoryLedger

    /// Whether the kernels came from `ProgramCache` rather than a compilation of the source.
    public let programFromCache: Bool
    /// Per-kernel device times, when opened with `profile: true`.
    public let profile: KernelProfile?
    /// Whether per-component constants and reductions run in float64 (the device has
    /// cl_khr_fp64 and float32 was not asked for), and the bytes of that type.
    public let usesDoublePrecision: Bool
    var realBytes: Int { usesDoublePrecision ? 8 : 4 }
    /// Reads that waited for the device so far (a training step should make none).
    public private(set) var blockingReads = 0
    /// Host copies of the last two writes, each until its transfer has finished: a write returns
    /// at once, so the host prepares the next batch while the device computes the current one.
    private var staging = [StagingSlot(), StagingSlot()]
    private var nextSlot = 0

    /// Opens `device` (nil: the first GPU, else the first device) and builds the kernels from
    /// `source`, or loads them from `cache` (nil: always compile); a kernel that does not build
    /// throws with the compiler's log. `float32`: no float64 in any kernel even where the device
    /// has it (OpenCL cannot tell how fast a device's float64 is; consumer GPUs run it at 1/32–1/64).
    public init(device index: Int? = nil, source: String = KernelSources.mfa, cache: ProgramCache? = .standard,
                profile: Bool = false, float32: Bool = false) throws {
        self.profile = profile ? KernelProfile() : nil
        device = try OpenCLDevices.select(index)
        usesDoublePrecision = device.hasDoublePrecision && !float32
        ledger = MemoryLedger(capacity: device.globalMemory)
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &id, nil, nil, &status), status == CL_SUCCESS else {
            throw MFAError.device("cannot create an OpenCL context on \(device.name) (error \(status))")
        }
        self.context = context
        let properties = cl_command_queue_properties(profile ? CL_QUEUE_PROFILING_ENABLE : 0)
        guard let queue = clCreateCommandQueue(context, device.id, properties, &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw MFAError.device("cannot create a command queue on \(device.name) (error \(status))")
        }
        self.queue = queue
        do {
            let options = "-DMAX_LATENT=\(Self.maxLatent)" + (usesDoublePrecision ? " -DUSE_FP64" : "")
            let opened = device
            var loaded: cl_program?
            var cachePath: String?
            if let cache {
                let path = cache.path(device: opened, options: options, source: source)
                loaded = cache.load(path, context: context, device: opened, options: options)
                cachePath = path
            }
            let built = try loaded ?? Self.build(source, options: options, context: context, device: opened)
            if loaded == nil, let cache, let cachePath { cache.store(built, at: cachePath) }
            programFromCache = loaded != nil
            program = built
            var made = [Kernel: cl_kernel]()
            do {
                for kernel in Kernel.allCases {
                    guard let handle = clCreateKernel(built, kernel.rawValue, &status), status == CL_SUCCESS else {
                        throw MFAError.device("the kernel source has no kernel '\(kernel.rawValue)' (error \(status))")
                    }
                    made[kernel] = handle
                }
            } catch {
                for kernel in made.values { clReleaseKernel(kernel) }
                clReleaseProgram(built)
                throw error
            }
            kernels = made
            var largest = 0
            try check(clGetKernelWorkGroupInfo(made[.logLikelihoods], device.id, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                               MemoryLayout<Int>.size, &largest, nil), "querying work-group sizes")
            reductionSize = 1 << Int(log2(Double(max(1, min(64, largest)))))
        } catch {
            clReleaseCommandQueue(queue)
            clReleaseContext(context)
            throw error
        }
        GEMMTuning.apply(to: device)
    }

    deinit {
        clFinish(queue)
        for slot in staging { slot.release() }
        for kernel in kernels.values { clReleaseKernel(kernel) }
        clReleaseProgram(program)
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    static func build(_ source: String, options: String, context: cl_context, device: OpenCLDevice) throws -> cl_program {
        var status: cl_int = 0
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program, status == CL_SUCCESS else { throw MFAError.device("cannot create the kernel program (error \(status))") }
        var id: cl_device_id? = device.id
        let built = clBuildProgram(program, 1, &id, options, nil, nil)
        guard built == CL_SUCCESS else {
            var size = 0
            clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &log, nil)
            clReleaseProgram(program)
            throw MFAError.device("the OpenCL kernels did not build on \(device.name) (error \(built)):\n\(text(log))")
        }
        return program
    }

    public var name: String { "opencl (\(device.name), \(device.platform) \(device.driver)\(usesDoublePrecision ? "" : ", float32 only"))" }

    // MARK: Buffers

    public func makeBuffer(count: Int) throws -> OpenCLBuffer {
        let bytes = max(count, 1) * MemoryLayout<Float>.size
        guard UInt64(bytes) <= device.maxAllocation else {
            throw MFAError.device(String(format: "a buffer of %.1f MiB exceeds %@'s largest allocation (%.1f MiB); use a smaller --batch-size",
                                         Double(bytes) / 1048576, device.name, Double(device.maxAllocation) / 1048576))
        }
        if let held = ledger.reserve(bytes) {
            throw MFAError.device(String(format: "out of device memory: %.1f MiB more on top of %.1f MiB held exceeds %@'s %.1f MiB; use a smaller --batch-size",
                                         Double(bytes) / 1048576, Double(held) / 1048576, device.name, Double(device.globalMemory) / 1048576))
        }
        var status: cl_int = 0
        guard let memory = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status), status == CL_SUCCESS else {
            ledger.release(bytes)
            throw MFAError.device(String(format: "cannot allocate %.1f MiB on %@ (error %d)", Double(bytes) / 1048576, device.name, status))
        }
        let buffer = OpenCLBuffer(memory: memory, count: count, ledger: ledger)
        var zero: Float = 0
        try check(clEnqueueFillBuffer(queue, memory, &zero, MemoryLayout<Float>.size, 0, bytes, 0, nil, nil), "clearing a buffer")
        return buffer
    }

    /// Copies `values` into a staging slot and enqueues the transfer without waiting for it; the
    /// slot is reused two writes later, once its transfer's event has completed.
    public func write(_ values: UnsafeBufferPointer<Float>, to buffer: OpenCLBuffer, offset: Int) throws {
        guard !values.isEmpty, let source = values.baseAddress else { return }
        try checkRange(buffer, offset, values.count)
        let slot = staging[nextSlot]
        nextSlot = (nextSlot + 1) % staging.count
        try slot.prepare(bytes: values.count * 4)
        slot.memory!.copyMemory(from: source, byteCount: values.count * 4)
        var event: cl_event?
        try check(clEnqueueWriteBuffer(queue, buffer.memory, cl_bool(CL_FALSE), offset * 4, values.count * 4, slot.memory,
                                       0, nil, &event), "writing to the device")
        slot.event = event
    }

    public func read(_ buffer: OpenCLBuffer, offset: Int, into values: UnsafeMutableBufferPointer<Float>) throws {
        guard !values.isEmpty else { return }
        try checkRange(buffer, offset, values.count)
        blockingReads += 1
        try check(clEnqueueReadBuffer(queue, buffer.memory, cl_bool(CL_TRUE), offset * 4, values.count * 4, values.baseAddress,
                                      0, nil, nil), "reading from the device")
    }

    private func checkRange(_ buffer: OpenCLBuffer, _ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset + count <= buffer.count else {
            throw MFAError.invalidArgument("range \(offset)..<\(offset + count) outside a buffer of \(buffer.count)")
        }
    }

    /// A scratch buffer of at least `count` floats for `purpose`.
    func scratchBuffer(_ purpose: String, count: Int) throws -> OpenCLBuffer {
        if let buffer = scratch[purpose], buffer.count >= count { return buffer }
        let buffer = try makeBuffer(count: count)
        // Zeroed by a host write as well: Oclgrind 21.10 reports a kernel's reads of what another
        // kernel wrote as uninitialised unless the host wrote the buffer first (a fill does not count).
        try [Float](repeating: 0, count: count).withUnsafeBufferPointer { try write($0, to: buffer, offset: 0) }
        scratch[purpose] = buffer
        return buffer
    }

    // MARK: GEMM

    public func gemm(_ p: MatrixProduct, a: OpenCLBuffer, b: OpenCLBuffer, c: OpenCLBuffer) throws {
        guard p.m > 0, p.n > 0 else { return }
        var event: cl_event?
        let status = withUnsafeMutablePointer(to: &event) { slot in
            CLBlastSgemm(CLBlastLayoutRowMajor, p.transposeA ? CLBlastTransposeYes : CLBlastTransposeNo,
                         p.transposeB ? CLBlastTransposeYes : CLBlastTransposeNo, p.m, p.n, p.k, p.alpha,
                         a.memory, p.aOffset, p.lda, b.memory, p.bOffset, p.ldb, p.beta, c.memory, p.cOffset, p.ldc,
                         &queue, profile == nil ? nil : slot)
        }
        profile?.record("gemm (CLBlast)", event)
        guard status == CLBlastSuccess else {
            throw MFAError.device("CLBlast SGEMM \(p.m)×\(p.n)×\(p.k) failed (status \(status.rawValue))")
        }
    }

    // MARK: Launches

    enum Argument {
        case buffer(OpenCLBuffer)
        case int(Int)
        case float(Float)
        /// `__local` scratch of this many bytes.
        case local(Int)
    }

    /// Sets the arguments and enqueues `kernel` over `global` work-items (work-groups of `local`);
    /// an empty range enqueues nothing.
    func launch(_ name: Kernel, global: [Int], local: [Int]? = nil, _ arguments: [Argument]) throws {
        guard !global.contains(0) else { return }
        guard let kernel = kernels[name] else { throw MFAError.device("kernel '\(name.rawValue)' was not built") }
        for (index, argument) in arguments.enumerated() {
            let slot = cl_uint(index)
            let status: cl_int
            switch argument {
            case .buffer(let buffer):
                var memory: cl_mem? = buffer.memory
                status = clSetKernelArg(kernel, slot, MemoryLayout<cl_mem?>.size, &memory)
            case .int(let value):
                var v = cl_int(value)
                status = clSetKernelArg(kernel, slot, MemoryLayout<cl_int>.size, &v)
            case .float(let value):
                var v = value
                status = clSetKernelArg(kernel, slot, MemoryLayout<Float>.size, &v)
            case .local(let bytes):
                status = clSetKernelArg(kernel, slot, bytes, nil)
            }
            try check(status, "setting argument \(index) of \(name.rawValue)")
        }
        var event: cl_event?
        let status = withUnsafeMutablePointer(to: &event) { slot in
            clEnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, global, local, 0, nil, profile == nil ? nil : slot)
        }
        try check(status, "launching \(name.rawValue)")
        profile?.record(name.rawValue, event)
    }

    /// Waits for everything enqueued (for timing).
    public func finish() throws { try check(clFinish(queue), "waiting for the device") }
}

/// The kernels of `Kernels/mfa.cl`, by their names there: all are built when the backend opens,
/// so a kernel missing from the source fails at start-up, not at its first launch.
enum Kernel: String, CaseIterable, Sendable {
    case expandBatch = "expand_batch", logLikelihoods = "log_likelihoods", weightLatents = "weight_latents"
    case columnSums = "column_sums", assembleGradient = "assemble_gradient", adamUpdate = "adam_update"
    case momentumUpdate = "momentum_update", clipLogPrecision = "clip_log_precision", innerMatrices = "inner_matrices"
    case rotateLoadings = "rotate_loadings", prepareRows = "prepare_rows", prepareConstants = "prepare_constants"
    case latentSecondMoments = "latent_second_moments", tieIsotropic = "tie_isotropic", tieShared = "tie_shared"
    case projectComponents = "project_components", tallyLogDensity = "tally_log_density"
}

/// Host memory a non-blocking write reads from, and the event of that write.
final class StagingSlot {
    var memory: UnsafeMutableRawPointer?
    var bytes = 0
    var event: cl_event?

    /// Waits for the slot's last transfer, then makes room for `count` bytes.
    func prepare(bytes count: Int) throws {
        if let pending = event {
            event = nil
            defer { clReleaseEvent(pending) }
            var list: cl_event? = pending
            try check(clWaitForEvents(1, &list), "waiting for a transfer to the device")
        }
        guard count > bytes else { return }
        memory?.deallocate()
        memory = .allocate(byteCount: count, alignment: 64)
        bytes = count
    }

    /// After the queue has finished.
    func release() {
        if let event { clReleaseEvent(event) }
        memory?.deallocate()
    }
}
