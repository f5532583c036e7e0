import Foundation
import MFA

/// Writes files so that a reader sees either the old content or the whole new one: write a
/// temporary file beside the target, fsync it, rename it over the target, fsync the directory.
///
/// - A target that is a symlink keeps its link: the file it points to is the one replaced.
/// - A target that exists and is not a regular file (a device such as /dev/null, a FIFO,
///   /dev/stdout) is written directly; renaming over it would replace the device node.
/// - The temporary file has a random name and is created with O_EXCL | O_NOFOLLOW, so a file or
///   symlink planted at a guessable name cannot redirect the write.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        var status = stat()
        if stat(path, &status) == 0, (status.st_mode & S_IFMT) != S_IFREG {
            guard (status.st_mode & S_IFMT) != S_IFDIR else { throw MFAError.fileAccess(path: path, reason: "is a directory") }
            try writeDirectly(bytes, to: path)
            return
        }
        let target = try resolveLinks(path)
        let directory = PathText.directory(of: target)
        let (descriptor, temporary) = try createTemporary(beside: target, in: directory.isEmpty ? "." : directory)
        // A replaced file keeps its permissions; a new one gets 0666 less the umask, like any other.
        if lstat(target, &status) == 0 { fchmod(descriptor, status.st_mode & 0o7777) }
        var failure = writeAll(bytes, to: descriptor)
        if failure == nil, fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        close(descriptor)
        if failure == nil, rename(temporary, target) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw MFAError.fileAccess(path: path, reason: "write failed (\(failure))")
        }
        // The rename is durable only once the directory entry is on disk too.
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            defer { close(directoryDescriptor) }
            guard fsync(directoryDescriptor) == 0 || errno == EINVAL else {
                throw MFAError.fileAccess(path: path, reason: "written, but its directory could not be synced (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// Devices, FIFOs and terminals: opened for writing as they are, never renamed over.
    static func writeDirectly(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw MFAError.fileAccess(path: path, reason: "cannot be opened for writing (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        if let failure = writeAll(bytes, to: descriptor) {
            throw MFAError.fileAccess(path: path, reason: "write failed (\(failure))")
        }
    }

    /// The path a chain of symlinks ends at (which may not exist yet); at most 40 links, as the kernel allows.
    static func resolveLinks(_ path: String) throws -> String {
        var current = path
        for _ in 0..<40 {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length >= 0 else { return current }  // not a link (or absent): the file itself
            let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : (PathText.directory(of: current) as NSString).appendingPathComponent(target)
        }
        throw MFAError.fileAccess(path: path, reason: "too many levels of symbolic links")
    }

    /// A new file with a random name in `directory`, created exclusively, never through a link.
    static func createTemporary(beside target: String, in directory: String) throws -> (CInt, String) {
        let name = (target as NSString).lastPathComponent
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for _ in 0..<100 {
            var generator = SystemRandomNumberGenerator()
            let suffix = String((0..<12).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            let temporary = "\(directory)/.\(name).\(suffix).tmp"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
            if descriptor >= 0 { return (descriptor, temporary) }
            guard errno == EEXIST else {
                throw MFAError.fileAccess(path: target, reason: "cannot create a file in \(directory) (\(String(cString: strerror(errno))))")
            }
        }
        throw MFAError.fileAccess(path: target, reason: "cannot find a free temporary name in \(directory)")
    }

    /// Writes everything, retrying short writes; the error text, or nil.
    static func writeAll(_ bytes: [UInt8], to descriptor: CInt) -> String? {
        var written = 0
        return bytes.withUnsafeBytes { raw -> String? in
            while written < raw.count {
                let n = Foundation.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return String(cString: strerror(errno)) }
                written += n
            }
            return nil
        }
    }
}
