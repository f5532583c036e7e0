import Dispatch
import Foundation

/// The threads the CPU backend computes on: every core of the process's affinity mask unless
/// set (`--threads`; under MPI, a share of the node's cores per rank). Set before training starts.
public enum CPUThreads {
    nonisolated(unsafe) public static var count = ProcessInfo.processInfo.activeProcessorCount
}

/// Splits 0..<count into one contiguous chunk per thread and runs `body` on each concurrently.
/// The passes it serves run between GEMMs, when OpenBLAS's own threads are idle.
func forEachChunk(of count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) throws -> Void) throws {
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
