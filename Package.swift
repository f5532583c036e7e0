// swift-tools-version: 6.1
import PackageDescription

/// One system-library target per C library; each folder holds a module map and a shim header.
func systemLibrary(_ name: String, pkgConfig: String, apt: [String]) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt(apt)])
}

let package = Package(
    name: "swift-mfa",
    products: [
        .library(name: "MFA", targets: ["MFA", "MFAIO", "MFACPU", "MFAOpenCL", "MFAMPI"]),
        .executable(name: "mfa", targets: ["mfa"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        systemLibrary("CBLAS", pkgConfig: "openblas", apt: ["libopenblas-dev"]),
        systemLibrary("CLAPACKE", pkgConfig: "lapacke", apt: ["liblapacke-dev"]),
        systemLibrary("CZlib", pkgConfig: "zlib", apt: ["zlib1g-dev"]),
        systemLibrary("COpenCL", pkgConfig: "OpenCL", apt: ["ocl-icd-opencl-dev", "opencl-headers"]),
        systemLibrary("CCLBlast", pkgConfig: "clblast", apt: ["libclblast-dev"]),
        systemLibrary("CMPI", pkgConfig: "ompi-c", apt: ["libopenmpi-dev", "openmpi-bin"]),
        // glibc's libmvec (no pkg-config file; libc6-dev has it wherever there is a C compiler).
        .systemLibrary(name: "CMathVector", path: "Sources/CMathVector"),

        // The core, knowing no command line, file format or backend: Model/, Data/, Engine/ (the
        // Backend protocol and the passes), Training/ (Loop/ and the strategies), Analysis/, DGMM/.
        .target(name: "MFA", dependencies: ["CBLAS", "CLAPACKE"]),
        // Readers and writers: .npy, IDX (gzipped too), CSV, safetensors, PNG.
        .target(name: "MFAIO", dependencies: ["MFA", "CZlib"]),
        // The Backend on OpenBLAS: the oracle and the fallback.
        .target(name: "MFACPU", dependencies: ["MFA", "CBLAS", "CLAPACKE", "CMathVector"]),
        // The Backend on OpenCL: Kernels/*.cl (embedded at build time) and CLBlast GEMMs.
        .target(name: "MFAOpenCL", dependencies: ["MFA", "COpenCL", "CCLBlast"], plugins: ["EmbedKernels"]),
        // Training across processes and nodes: the loop's `Reducer` on Open MPI's MPI_Allreduce.
        .target(name: "MFAMPI", dependencies: ["MFA", "CMPI"]),
        .plugin(name: "EmbedKernels", capability: .buildTool(), path: "Plugins/EmbedKernels"),
        // `mfa bench`: a training step against the backend's own GEMM rate on the same shapes.
        .target(name: "MFABench", dependencies: ["MFA", "MFACPU", "MFAOpenCL", "CBLAS"], path: "Benchmarks/MFABench"),
        .executableTarget(
            name: "mfa",
            dependencies: [
                "MFA", "MFAIO", "MFACPU", "MFAOpenCL", "MFAMPI", "MFABench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "MFATests", dependencies: ["MFA", "MFACPU", "CLAPACKE"]),
        .testTarget(name: "MFAOpenCLTests", dependencies: ["MFA", "MFACPU", "MFAOpenCL"]),
        .testTarget(name: "MFAIOTests", dependencies: ["MFA", "MFAIO", "CZlib"]),
        .testTarget(name: "MFACommandTests", dependencies: ["MFA", "MFAIO", "mfa"]),
    ]
)
