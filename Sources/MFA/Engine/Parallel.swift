import Dispatch
import Foundation

/// The threads the host computes on (the CPU backend's passes, and the host M-steps of every
/// backend): every core of the process's affinity mask unless set (`--threads`; under MPI, a
/// share of the node's cores per rank). Set before training starts.
public enum CPUThreads {
    nonisolated(unsafe) public static var count = affinity

    /// The cores this process may run on (its affinity mask: `taskset`, or an MPI launcher's
    /// binding), which Foundation's activeProcessorCount does not look at.
    /// (Linux's /proc/self/status `Cpus_allowed`, a hex mask: Swift's Glibc does not import
    /// sched_getaffinity.)
    public static var affinity: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
            return ProcessInfo.processInfo.activeProcessorCount
        }
        let bits = line.dropFirst("Cpus_allowed:".count).compactMap { $0.hexDigitValue?.nonzeroBitCount }.reduce(0, +)
        return bits > 0 ? min(bits, ProcessInfo.processInfo.processorCount) : ProcessInfo.processInfo.activeProcessorCount
    }
}

/// Splits 0..<count into one contiguous chunk per thread and runs `body` on each concurrently;
/// the first error any chunk throws is rethrown. The passes it serves run between GEMMs, when
/// OpenBLAS's own threads are idle.
public func forEachChunk(of count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) throws -> Void) throws {
    let chunks = max(1, min(CPUThreads.count, count / max(minimumChunk, 1)))
    if chunks == 1 { return try body(0..<count) }
    let failures = FailureBox()
    // The chunks write disjoint ranges; the closure's captures (buffer pointers) are not Sendable
    // by type, so the closure is handed over unchecked.
    try withoutActuallyEscaping(body) { escapable in
        let work = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            do {
                try work.value((count * chunk / chunks)..<(count * (chunk + 1) / chunks))
            } catch {
                failures.record(error)
            }
        }
        if let error = failures.first { throw error }
    }
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The first error thrown by any chunk.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?

    var first: Error? { lock.withLock { error } }

    func record(_ newError: Error) { lock.withLock { if error == nil { error = newError } } }
}

/// `(0..<count).map(transform)` with the indices split over `forEachChunk`'s threads: for
/// per-component host work (online EM's statistics and M-step, the canonical form), which is
/// independent across components and ran on one core while the others idled.
public func concurrentMap<T>(_ count: Int, _ transform: (Int) throws -> T) throws -> [T] {
    var results = [T?](repeating: nil, count: count)
    try results.withUnsafeMutableBufferPointer { slots in
        let target = slots  // each index written by exactly one chunk
        try forEachChunk(of: count) { range in for index in range { target[index] = try transform(index) } }
    }
    return results.map { $0! }
}
