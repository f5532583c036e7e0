import ArgumentParser
import MFACPU
import MFAOpenCL

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the compute devices: the CPU backend and every OpenCL device.")

    func run() throws {
        say("cpu: \(CPUBackend().name)")
        switch OpenCLDevices.all {
        case .success(let devices) where devices.isEmpty:
            say("opencl: no device (install an OpenCL driver, e.g. pocl-opencl-icd for CPUs)")
        case .success(let devices):
            for device in devices { say("opencl \(device)") }
        case .failure(let error):
            say("opencl: \(error)")
        }
    }
}
