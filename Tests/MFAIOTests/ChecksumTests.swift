import Foundation
import MFA
import MFAIO
import Testing

/// Models and checkpoints carry a CRC-32 of their tensors and metadata; a flipped byte is refused.
@Suite struct ChecksumTests {
    func modelFile(_ directory: TemporaryDirectory) throws -> (path: String, bytes: [UInt8], dataStart: Int) {
        let shape = try MixtureShape(components: 2, dimension: 3, latent: 1)
        let model = try MixtureModel(shape: shape, weights: [0.25, 0.75], means: [1, 2, 3, -1, -2, -3],
                                     loadings: [0.1, 0.2, 0.3, -0.1, -0.2, -0.3], noiseVariances: [0.5, 1, 1.5, 2, 2.5, 3])
        let path = directory.path + "/m.safetensors"
        try ModelFile.write(model, metadata: ["training.seed": "4"], to: path)
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let length = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        return (path, bytes, 8 + length)
    }

    @Test("Written files carry crc32 in __metadata__['checksum']")
    func writtenFilesCarryChecksum() throws {
        let directory = TemporaryDirectory()
        let (path, _, _) = try modelFile(directory)
        let checksum = try Safetensors.read(path: path).metadata["checksum"]
        #expect(checksum?.hasPrefix("crc32:") == true && checksum?.count == 14)
    }

    @Test("One flipped byte in the tensors is refused", arguments: [0, 17, 60])
    func flippedTensorByteIsRefused(offset: Int) throws {
        let directory = TemporaryDirectory()
        var (_, bytes, start) = try modelFile(directory)
        bytes[start + offset] ^= 0x01
        let flipped = directory.file("flipped.safetensors", bytes: bytes)
        #expect {
            try ModelFile.read(flipped)
        } throws: { error in
            "\(error)".contains("corrupted") && "\(error)".split(separator: "\n").count == 1
        }
    }

    @Test("A changed metadata value is refused")
    func changedMetadataIsRefused() throws {
        let directory = TemporaryDirectory()
        let (_, bytes, _) = try modelFile(directory)
        // The header is ASCII JSON: change the seed's digit in place.
        let key = Array("\"training.seed\":\"4".utf8)
        let at = try #require((0...(bytes.count - key.count)).first { Array(bytes[$0..<($0 + key.count)]) == key })
        var edited = bytes
        edited[at + key.count - 1] = UInt8(ascii: "5")
        let path = directory.file("edited.safetensors", bytes: edited)
        #expect(throws: MFAError.self) { try ModelFile.read(path) }
    }

    @Test("Files without a checksum (numpy, the safetensors library, older releases) are read as before")
    func filesWithoutChecksumAreAccepted() throws {
        let header = Array(#"{"__metadata__":{"kind":"mfa"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        let length = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        let directory = TemporaryDirectory()
        let path = directory.file("plain.safetensors", bytes: length + header + floatBytes([1.5, -2]))
        let (tensors, metadata) = try Safetensors.read(path: path)
        #expect(tensors["w"]?.values == [1.5, -2] && metadata["checksum"] == nil)
    }
}
