import Foundation
import MFA

/// What a path names, for telling whether two paths are the same file: the device and inode when
/// the file exists, and the path with every symlink and `..` resolved, whether it exists or not.
public struct FileIdentity: Equatable, Sendable {
    public let resolvedPath: String
    public let device: UInt64?
    public let inode: UInt64?
    /// The stat mode bits (S_IFMT part), or nil when nothing exists there.
    public let type: mode_t?

    public init(_ path: String) {
        var status = stat()
        if stat(path, &status) == 0 {
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
            type = status.st_mode & S_IFMT
        } else {
            (device, inode, type) = (nil, nil, nil)
        }
        resolvedPath = FileIdentity.resolve(path)
    }

    public var exists: Bool { type != nil }
    public var isRegularFile: Bool { type == S_IFREG }

    /// Whether both name one file: the same inode on the same device, or the same resolved path.
    public func isSameFile(as other: FileIdentity) -> Bool {
        if let device, let inode, device == other.device, inode == other.inode { return true }
        return resolvedPath == other.resolvedPath
    }

    /// The absolute path with symlinks (dangling ones too) and `.`/`..` resolved.
    static func resolve(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if let real = realpath(absolute, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        // Absent (or a dangling link): resolve what leads to it, then the link chain itself.
        let followed = (try? AtomicFile.resolveLinks(absolute)) ?? absolute
        let directory = PathText.directory(of: followed)
        guard directory != followed, let real = realpath(directory, nil) else { return (followed as NSString).standardizingPath }
        defer { free(real) }
        return (String(cString: real) as NSString).appendingPathComponent((followed as NSString).lastPathComponent)
    }

    /// An input file must be something that can be read whole or mapped: a directory, a FIFO or a
    /// file without read permission is one line, before anything tries to read it.
    public static func checkReadable(_ path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw MFAError.fileAccess(path: path, reason: errno == ENOENT ? "no such file" : "cannot be read (\(String(cString: strerror(errno))))")
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw MFAError.fileAccess(path: path, reason: "is a directory, not a file")
        case S_IFIFO: throw MFAError.fileAccess(path: path, reason: "is a pipe (FIFO); give a regular file")
        default: throw MFAError.fileAccess(path: path, reason: "is not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw MFAError.fileAccess(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
    }
}
