import Foundation
import MFA

/// Refuses work whose buffers could never fit, before allocating them: an allocation beyond the
/// machine's physical memory either aborts the process or swaps it to a standstill. Memory-mapped
/// inputs are not counted; they stream.
public enum MemoryLimit {
    public static var physicalBytes: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

    /// Throws, naming `what` and the bytes it needs, when `bytes` exceed physical memory.
    public static func require(bytes: Int, for what: String) throws {
        guard bytes <= physicalBytes else {
            throw MFAError.invalidArgument("\(what) would need \(byteText(bytes)) of memory; this machine has \(byteText(physicalBytes))")
        }
    }

    /// The same for the product of `factors` elements of `bytesEach` bytes.
    public static func require(_ factors: [Int], bytesEach: Int, for what: String) throws {
        try require(bytes: product(factors + [bytesEach]), for: what)
    }

    /// The product, saturating at Int.max instead of overflowing (negative factors count as 0).
    public static func product(_ factors: [Int]) -> Int {
        factors.reduce(1) { total, factor in
            let (result, overflow) = total.multipliedReportingOverflow(by: max(factor, 0))
            return overflow ? Int.max : result
        }
    }

    /// The sum, saturating at Int.max.
    public static func sum(_ terms: [Int]) -> Int {
        terms.reduce(0) { total, term in
            let (result, overflow) = total.addingReportingOverflow(term)
            return overflow ? Int.max : result
        }
    }

    /// "1.5 GiB", "40.0 TiB"; "more than 8 EiB" for a saturated count.
    public static func byteText(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 8 EiB" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
