import Foundation
import MFA
import MFAIO
import Testing

/// How `AtomicFile` treats what already sits at the target path.
@Suite struct AtomicFileTests {
    func contents(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    func fileType(_ path: String) -> FileAttributeType? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    }

    @Test("A target that is a symlink stays a link; the file it points to is replaced")
    func symlinkTargetIsFollowed() throws {
        let directory = TemporaryDirectory()
        let real = directory.file("real.bin", text: "old")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/link.bin", withDestinationPath: "real.bin")
        try AtomicFile.write(Array("new".utf8), to: directory.path + "/link.bin")
        #expect(fileType(directory.path + "/link.bin") == .typeSymbolicLink)
        #expect(contents(real) == Array("new".utf8))
    }

    @Test("A symlink planted at the old predictable temporary name redirects nothing")
    func plantedTemporaryLinkIsIgnored() throws {
        let directory = TemporaryDirectory()
        let victim = directory.file("victim.txt", text: "precious")
        // The name the writer used to use: .NAME.PID.tmp.
        let planted = directory.path + "/.out.bin.\(getpid()).tmp"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        try AtomicFile.write(Array("model".utf8), to: directory.path + "/out.bin")
        #expect(contents(victim) == Array("precious".utf8))
        #expect(contents(directory.path + "/out.bin") == Array("model".utf8))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(left == [".out.bin.\(getpid()).tmp", "out.bin", "victim.txt"], "no temporary file may be left behind")
    }

    @Test("Replacing a file keeps its permissions")
    func permissionsAreKept() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("m.bin", text: "old")
        chmod(path, 0o600)
        try AtomicFile.write([1, 2, 3], to: path)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(contents(path) == [1, 2, 3])
    }

    @Test("A folder as the target is one error, and the folder stays")
    func folderTargetIsRefused() throws {
        let directory = TemporaryDirectory()
        #expect(throws: MFAError.self) { try AtomicFile.write([1], to: directory.path) }
        #expect(fileType(directory.path) == .typeDirectory)
    }
}
