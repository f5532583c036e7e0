import CCLBlast
import COpenCL
import Foundation

/// CLBlast's GEMM parameters for devices its database lacks. On PoCL it silently falls back to
/// generic parameters, 3× slower; these were measured on this project's machine
/// (PLATFORM-NOTES.md: 54–70 GFLOP/s instead of 17–30). Data, not code: one row per device kind.
enum GEMMTuning {
    static let table: [(matches: @Sendable (OpenCLDevice) -> Bool, kernel: String, parameters: [(String, Int)])] = [
        ({ $0.platform.contains("Portable Computing Language") && !$0.isGPU }, "Xgemm",
         [("GEMMK", 0), ("MWG", 64), ("NWG", 64), ("KWG", 32), ("MDIMC", 8), ("NDIMC", 8), ("MDIMA", 8), ("NDIMB", 8),
          ("KWI", 2), ("VWM", 4), ("VWN", 4), ("STRM", 0), ("STRN", 0), ("SA", 1), ("SB", 1), ("KREG", 1)]),
    ]

    static func apply(to device: OpenCLDevice) {
        for entry in table where entry.matches(device) {
            let names = entry.parameters.map { strdup($0.0) }
            defer { names.forEach { free($0) } }
            var pointers = names.map { UnsafePointer<CChar>($0) }
            var values = entry.parameters.map { $0.1 }
            _ = CLBlastOverrideParameters(device.id, entry.kernel, CLBlastPrecisionSingle, entry.parameters.count,
                                          &pointers, &values)
        }
    }
}
