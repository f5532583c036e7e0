import COpenCL
import Foundation

/// Per-kernel device times from OpenCL events (`--profile`): every launch and CLBlast GEMM of a
/// profiling backend records an event (for a GEMM, CLBlast's last kernel: a GEMM that pads or
/// transposes first counts only its main kernel); the events are read in batches of 4,096. Off by
/// default: it keeps an event per launch (its overhead was not measured).
public final class KernelProfile: @unchecked Sendable {
    /// Name → (launches, seconds on the device).
    public private(set) var totals: [String: (calls: Int, seconds: Double)] = [:]
    private var pending: [(name: String, event: cl_event)] = []

    func record(_ name: String, _ event: cl_event?) {
        guard let event else { return }
        pending.append((name, event))
        if pending.count >= 4096 { resolve() }
    }

    /// Reads every recorded event's start and end (waiting for them) into `totals`.
    func resolve() {
        for (name, event) in pending {
            var start: cl_ulong = 0, end: cl_ulong = 0
            clWaitForEvents(1, [event])
            let ok = clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), MemoryLayout<cl_ulong>.size, &start, nil) == CL_SUCCESS
                && clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), MemoryLayout<cl_ulong>.size, &end, nil) == CL_SUCCESS
            clReleaseEvent(event)
            guard ok, end >= start else { continue }
            let previous = totals[name] ?? (0, 0)
            totals[name] = (previous.calls + 1, previous.seconds + Double(end - start) * 1e-9)
        }
        pending.removeAll()
    }

    /// One line per kernel, the most time first: calls, total ms, mean µs and share.
    public func report() -> [String] {
        resolve()
        let all = totals.values.reduce(0) { $0 + $1.seconds }
        return totals.sorted { $0.value.seconds > $1.value.seconds }.map { name, value in
            name.padding(toLength: max(name.count, 24), withPad: " ", startingAt: 0)
                + String(format: " %8d calls %10.1f ms %10.1f µs each %5.1f%%", value.calls, value.seconds * 1e3,
                         value.seconds * 1e6 / Double(max(value.calls, 1)), 100 * value.seconds / max(all, 1e-12))
        }
    }
}
