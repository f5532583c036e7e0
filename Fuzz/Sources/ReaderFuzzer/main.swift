import CLibFuzzer
import Foundation
import MFA
import MFAIO

/// Every reader on the same bytes: each must either parse or throw, never crash, trap or allocate
/// what a header merely claims.
func readAll(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? DataFile.parse(bytes, path: "fuzz")            // gzip, .npy, IDX, CSV
    _ = try? Safetensors.parse(bytes, path: "fuzz")         // the container of models and checkpoints
    _ = try? ModelFile.parse(bytes, path: "fuzz")           // an MFA or DGMM model from it
    _ = try? CheckpointFile.parse(bytes, path: "fuzz")      // a training checkpoint from it
    _ = try? Numpy.parse(bytes, path: "fuzz")
    _ = try? IDX.parse(bytes, path: "fuzz")
    // CSV's header guess, --skip-columns and missing values as reconstruct reads them.
    _ = try? CSV.parse(bytes, path: "fuzz", options: CSV.Options(skipColumns: 1, missingAllowed: true, note: { _ in }))
    return 0
}

/// The entry point libFuzzer's runtime refers to; the driver below is handed the same function.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { readAll(data, size) }

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { readAll($0, $1) })
