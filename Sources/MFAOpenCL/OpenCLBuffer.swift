import COpenCL

/// A float32 buffer in device memory; released with the value.
public final class OpenCLBuffer: @unchecked Sendable {
    public let count: Int
    let memory: cl_mem

    init(memory: cl_mem, count: Int) {
        self.memory = memory
        self.count = count
    }

    deinit { clReleaseMemObject(memory) }
}
