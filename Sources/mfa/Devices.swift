import ArgumentParser
import MFA
import MFACPU
import MFAOpenCL

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the compute devices: the CPU backend and every OpenCL device.")

    /// Under MPI every rank lists what it sees, and which device it takes by default.
    func run() throws {
        CPUThreads.count = Launch.defaultThreads()
        sayFromThisRank("cpu: \(CPUBackend().name)")
        switch OpenCLDevices.all {
        case .success(let devices) where devices.isEmpty:
            sayFromThisRank("opencl: no device (install an OpenCL driver, e.g. pocl-opencl-icd for CPUs)")
        case .success(let devices):
            for device in devices { sayFromThisRank("opencl \(device)") }
            if let mine = Launch.defaultDevice(count: devices.count) { sayFromThisRank("takes OpenCL device \(mine) unless --device says otherwise") }
        case .failure(let error):
            sayFromThisRank("opencl: \(error)")
        }
    }
}
