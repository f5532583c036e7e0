import COpenCL
import Foundation

/// Compiled kernel programs kept on disk, one file per device, driver, build options and source
/// (an FNV-1a hash of all four names the file), so that a backend opens without compiling
/// `Kernels/mfa.cl` again: GPU drivers and PoCL take seconds for it. A cache that cannot be read,
/// written or loaded is passed over: the program is built from source as before, and the file
/// rewritten.
public struct ProgramCache: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// $MFA_CACHE_DIR, else $XDG_CACHE_HOME/swift-mfa, else ~/.cache/swift-mfa.
    public static var standard: ProgramCache {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["MFA_CACHE_DIR"], !explicit.isEmpty { return ProgramCache(directory: explicit) }
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return ProgramCache(directory: (base as NSString).appendingPathComponent("swift-mfa"))
    }

    /// The file for this device, driver, options and source.
    func path(device: OpenCLDevice, options: String, source: String) -> String {
        let driver = device.driver
        let version = (try? OpenCLDevices.deviceString(device.id, CL_DEVICE_VERSION)) ?? "?"
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in [device.platform, device.name, driver, version, options, source].joined(separator: "\u{1}").utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return (directory as NSString).appendingPathComponent(String(hash, radix: 16) + ".clbin")
    }

    /// A program built from the cached binary, or nil (no file, or the driver refuses it).
    func load(_ path: String, context: cl_context, device: OpenCLDevice, options: String) -> cl_program? {
        guard let binary = FileManager.default.contents(atPath: path), !binary.isEmpty else { return nil }
        var status: cl_int = 0, binaryStatus: cl_int = 0
        var id: cl_device_id? = device.id
        var length = binary.count
        let program: cl_program? = binary.withUnsafeBytes { bytes in
            var pointer: UnsafePointer<UInt8>? = bytes.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context, 1, &id, &length, &pointer, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let program { clReleaseProgram(program) }
            return nil
        }
        guard clBuildProgram(program, 1, &id, options, nil, nil) == CL_SUCCESS else {
            clReleaseProgram(program)
            return nil
        }
        return program
    }

    /// Writes a built program's binary (atomically: a temporary file, then a rename).
    func store(_ program: cl_program, at path: String) {
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS,
              size > 0 else { return }
        var binary = [UInt8](repeating: 0, count: size)
        let status = binary.withUnsafeMutableBufferPointer { buffer -> cl_int in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>>.size,
                                    &pointer, nil)
        }
        guard status == CL_SUCCESS else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? Data(binary).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
