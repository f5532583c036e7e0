import Foundation
import PackagePlugin

/// Turns every `Kernels/*.cl` file into a Swift string constant, `KernelSources.<file name>`, at
/// build time, so the kernels ship inside the library: it works as a dependency and installed,
/// with no resource bundle to find at run time.
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let directory = context.package.directoryURL.appending(path: "Kernels")
        let kernels = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "cl" }
            .sorted { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "KernelSources.swift")
        // Each file becomes a raw string literal (#"""…"""#): backslashes and quotes stay as written.
        let script = ##"""
            { printf '// Generated from Kernels/*.cl by the EmbedKernels plugin.\npublic enum KernelSources {\n'; \
            for f in "$@"; do printf '    public static let %s = #"""\n' "$(basename "$f" .cl)"; cat "$f"; \
            printf '\n"""#\n'; done; printf '}\n'; } > "$0"
            """##
        return [.buildCommand(displayName: "Embedding OpenCL kernels", executable: URL(fileURLWithPath: "/bin/sh"),
                              arguments: ["-c", script, output.path] + kernels.map(\.path),
                              inputFiles: kernels, outputFiles: [output])]
    }
}
