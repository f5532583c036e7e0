import Foundation
import MFA
import MFAIO

/// The files a command reads and writes, checked at the start of `run()` before any work, so that
/// nothing a user types destroys their data:
/// - no output is the same file as an input (same device and inode, or the same resolved path)
///   or as another output, except the pairs in `inPlace`, whose input is read whole before the
///   output replaces it atomically (`--resume F --checkpoint F`, `--from M --out M`);
/// - every output's folder exists and is writable, and no output is a folder;
/// - every input that exists is a readable regular file (a missing one is left to its reader,
///   which says "no such file", or to the resume logic, which starts fresh).
/// - an output replaces an existing file only if that holds what the output writes (`FileKind`):
///   `--csv data.npy` or `-o data.csv` would destroy data that no input option named.
/// Outputs that are devices or FIFOs (`-o /dev/null`) are written directly and collide with nothing.
struct FilePlan {
    var inputs: KeyValuePairs<String, String?>
    /// Each output option's path and what the command writes there.
    var outputs: KeyValuePairs<String, (path: String?, kind: FileKind)>
    var inPlace: [(input: String, output: String)] = []

    func check() throws {
        for (name, path) in Array(inputs) + outputs.map({ ($0.key, $0.value.path) }) where path == "" {
            throw MFAError.invalidArgument("\(name) is an empty path; give a file name")
        }
        let reads = inputs.compactMap { name, path in path.map { (name: name, path: $0, identity: FileIdentity($0)) } }
        let writes = outputs.compactMap { name, output in
            output.path.map { (name: name, path: $0, identity: FileIdentity($0), kind: output.kind) }
        }
        for input in reads where input.identity.exists {
            try FileIdentity.checkReadable(input.path)
        }
        for (index, output) in writes.enumerated() {
            if output.identity.type == S_IFDIR {
                throw MFAError.invalidArgument("\(output.name) \(output.path) is a folder; give a file name")
            }
            if output.identity.exists, !output.identity.isRegularFile {
                guard access(output.path, W_OK) == 0 else {
                    throw MFAError.fileAccess(path: output.path, reason: "cannot be written (\(String(cString: strerror(errno))))")
                }
                continue  // a device or FIFO: written directly, nothing to lose
            }
            let folder = PathText.directory(of: output.identity.resolvedPath)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw MFAError.fileAccess(path: output.path, reason: FileManager.default.fileExists(atPath: folder)
                                          ? "\(folder) is a file, not a folder" : "its folder \(folder) does not exist")
            }
            guard access(folder, W_OK | X_OK) == 0 else {
                throw MFAError.fileAccess(path: output.path, reason: "cannot write in its folder \(folder) (\(String(cString: strerror(errno))))")
            }
            for input in reads where input.identity.isSameFile(as: output.identity)
                && !inPlace.contains(where: { $0.input == input.name && $0.output == output.name }) {
                throw MFAError.invalidArgument("\(output.name) \(output.path) is the same file as \(input.name) \(input.path); refusing to overwrite an input")
            }
            for other in writes[(index + 1)...] where other.identity.isSameFile(as: output.identity)
                && (other.identity.isRegularFile || !other.identity.exists) {
                throw MFAError.invalidArgument("\(output.name) \(output.path) and \(other.name) \(other.path) are the same file; give each output its own")
            }
            if output.identity.isRegularFile, let existing = try FileKind.of(path: output.path), existing != output.kind {
                throw MFAError.invalidArgument("\(output.name) \(output.path) exists and holds \(existing.rawValue), where \(output.name) writes \(output.kind.rawValue); refusing to replace it (remove it first, or give another name)")
            }
        }
    }
}
