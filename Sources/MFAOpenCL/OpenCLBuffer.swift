import COpenCL

import Foundation

/// A float32 buffer in device memory; released with the value.
public final class OpenCLBuffer: @unchecked Sendable {
    public let count: Int
    let memory: cl_mem
    let ledger: MemoryLedger

    init(memory: cl_mem, count: Int, ledger: MemoryLedger) {
        self.memory = memory
        self.count = count
        self.ledger = ledger
    }

    deinit {
        clReleaseMemObject(memory)
        ledger.release(max(count, 1) * MemoryLayout<Float>.size)
    }
}

/// Device memory a backend holds: allocations are refused with a clear error before the device
/// runs out, instead of failing later at some kernel launch.
final class MemoryLedger: @unchecked Sendable {
    let capacity: UInt64
    private let lock = NSLock()
    private var held: UInt64 = 0

    init(capacity: UInt64) { self.capacity = capacity }

    /// Reserves `bytes`, or returns the bytes already held if they would not fit.
    func reserve(_ bytes: Int) -> UInt64? {
        lock.withLock {
            guard held + UInt64(bytes) <= capacity else { return held }
            held += UInt64(bytes)
            return nil
        }
    }

    func release(_ bytes: Int) { lock.withLock { held -= UInt64(bytes) } }
}
