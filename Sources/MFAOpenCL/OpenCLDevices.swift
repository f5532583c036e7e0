import COpenCL
import Foundation
import MFA

/// One OpenCL device as the driver describes it.
public struct OpenCLDevice: @unchecked Sendable, CustomStringConvertible {
    public let index: Int
    public let platform: String
    public let name: String
    /// CL_DRIVER_VERSION: what `mfa bench` and the program cache name the driver by.
    public let driver: String
    public let isGPU: Bool
    public let globalMemory: UInt64
    public let maxAllocation: UInt64
    public let computeUnits: Int
    public let hasDoublePrecision: Bool
    let id: cl_device_id
    let platformID: cl_platform_id

    public var description: String {
        String(format: "#%d %@ — %@ %@ (%@), %d compute units, %.2f GiB, largest buffer %.2f GiB%@", index, name, platform,
               driver, isGPU ? "GPU" : "CPU", computeUnits, Double(globalMemory) / 1073741824,
               Double(maxAllocation) / 1073741824, hasDoublePrecision ? ", fp64" : "")
    }
}

/// The devices of every platform, discovered once per process: ocl-icd with PoCL fails
/// intermittently when two threads initialise OpenCL at once (PLATFORM-NOTES.md).
public enum OpenCLDevices {
    public static let all: Result<[OpenCLDevice], MFAError> = Result { try discover() }.mapError {
        $0 as? MFAError ?? .device("\($0)")
    }

    /// The device for `index`, or the first GPU (else the first device) when nil.
    public static func select(_ index: Int?) throws -> OpenCLDevice {
        let devices = try all.get()
        guard !devices.isEmpty else { throw MFAError.device("no OpenCL device found (is an ICD such as pocl-opencl-icd installed?)") }
        if let index {
            guard devices.indices.contains(index) else {
                throw MFAError.device("no OpenCL device #\(index); `mfa devices` lists \(devices.count)")
            }
            return devices[index]
        }
        return devices.first(where: \.isGPU) ?? devices[0]
    }

    static func discover() throws -> [OpenCLDevice] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        if status == -1001 || platformCount == 0 { return [] }  // CL_PLATFORM_NOT_FOUND_KHR: no ICD installed
        try check(status, "listing OpenCL platforms")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try check(clGetPlatformIDs(platformCount, &platforms, nil), "listing OpenCL platforms")
        var devices = [OpenCLDevice]()
        for case let platform? in platforms {
            var count: cl_uint = 0
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count) == CL_SUCCESS, count > 0 else { continue }
            var ids = [cl_device_id?](repeating: nil, count: Int(count))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, nil), "listing OpenCL devices")
            let platformName = try platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            for case let id? in ids {
                let type: cl_device_type = try deviceValue(id, CL_DEVICE_TYPE)
                devices.append(OpenCLDevice(
                    index: devices.count, platform: platformName, name: try deviceString(id, CL_DEVICE_NAME),
                    driver: (try? deviceString(id, CL_DRIVER_VERSION)) ?? "?",
                    isGPU: type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0,
                    globalMemory: try deviceValue(id, CL_DEVICE_GLOBAL_MEM_SIZE),
                    maxAllocation: try deviceValue(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                    computeUnits: Int(try deviceValue(id, CL_DEVICE_MAX_COMPUTE_UNITS) as cl_uint),
                    hasDoublePrecision: try deviceString(id, CL_DEVICE_EXTENSIONS).contains("cl_khr_fp64"),
                    id: id, platformID: platform))
            }
        }
        return devices
    }

    static func deviceValue<T: FixedWidthInteger>(_ id: cl_device_id, _ parameter: Int32) throws -> T {
        var value: T = 0
        try check(clGetDeviceInfo(id, cl_device_info(parameter), MemoryLayout<T>.size, &value, nil), "reading device information")
        return value
    }

    static func deviceString(_ id: cl_device_id, _ parameter: Int32) throws -> String {
        var size = 0
        try check(clGetDeviceInfo(id, cl_device_info(parameter), 0, nil, &size), "reading device information")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(clGetDeviceInfo(id, cl_device_info(parameter), size, &bytes, nil), "reading device information")
        return text(bytes).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func platformString(_ id: cl_platform_id, _ parameter: cl_platform_info) throws -> String {
        var size = 0
        try check(clGetPlatformInfo(id, parameter, 0, nil, &size), "reading platform information")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(clGetPlatformInfo(id, parameter, size, &bytes, nil), "reading platform information")
        return text(bytes)
    }
}

/// Throws a device error naming what failed and the OpenCL status.
func check(_ status: cl_int, _ what: String) throws {
    guard status == CL_SUCCESS else {
        let meaning = [-4: "memory allocation failure", -5: "out of device resources", -6: "out of host memory"][Int(status)]
        throw MFAError.device("\(what) failed (OpenCL error \(status)\(meaning.map { ": " + $0 } ?? ""))")
    }
}


/// The text of a NUL-terminated C buffer.
func text(_ bytes: [CChar]) -> String {
    String(decoding: bytes.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
