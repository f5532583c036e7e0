import Foundation
import MFA

/// Refuses work whose buffers could never fit, before allocating them: an allocation beyond the
/// machine's physical memory either aborts the process or swaps it to a standstill. Memory-mapped
/// inputs are not counted; they stream.
public enum MemoryLimit {
    public static var physicalBytes: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

    /// The bytes of `count` elements of `elementBytes` each, over `parts` (e.g. ["--count", "d"]) multiplied together.
    public static func require(_ factors: [Int], bytesEach: Int, for what: String) throws {
        var total = bytesEach
        for factor in factors {
            let (product, overflow) = total.multipliedReportingOverflow(by: max(factor, 0))
            total = overflow ? Int.max : product
        }
        guard total <= physicalBytes else {
            throw MFAError.invalidArgument("\(what) would need \(byteText(total)) of memory; this machine has \(byteText(physicalBytes))")
        }
    }

    /// "1.5 GiB", "40.0 TiB"; "more than 8 EiB" for an overflowed product.
    public static func byteText(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 8 EiB" }
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
