import Foundation
import MFA
import MFAIO
import Testing

@Suite struct ModelFileTests {
    func model(latent: Int) throws -> MixtureModel {
        let shape = try MixtureShape(components: 2, dimension: 3, latent: latent)
        return try MixtureModel(shape: shape, weights: [0.25, 0.75], means: [1, 2, 3, -1, -2, -3],
                                loadings: (0..<(6 * latent)).map { Float($0) / 10 - 0.2 },
                                noiseVariances: [0.5, 1, 1.5, 2, 2.5, 3])
    }

    @Test("A model round-trips through safetensors with its metadata", arguments: [0, 2])
    func roundTrip(latent: Int) throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/m.safetensors"
        let original = try model(latent: latent)
        try ModelFile.write(original, metadata: ["training.seed": "4", "image_shape": "1x3"], to: path)
        let contents = try ModelFile.read(path)
        #expect(contents.model == original)
        #expect(contents.metadata["format"] == "swift-mfa" && contents.metadata["kind"] == "mfa")
        #expect(contents.metadata["training.seed"] == "4" && contents.imageShape == ImageShape(height: 1, width: 3))
        let (tensors, _) = try Safetensors.read(path: path)
        #expect(tensors["precision_diag"]?.shape == [2, 3] && tensors["precision_loadings"]?.shape == [2, 3, latent])
    }

    @Test("The file layout is plain safetensors: header length, JSON header, little-endian float32")
    func layoutIsStandard() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/m.safetensors"
        try ModelFile.write(try model(latent: 1), metadata: [:], to: path)
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let length = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        let weights = header["weights"] as! [String: Any]
        #expect(weights["dtype"] as? String == "F32" && weights["shape"] as? [Int] == [2])
        let offsets = weights["data_offsets"] as! [Int]
        let start = 8 + length + offsets[0]
        let first = Float(bitPattern: bytes[start..<(start + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) })
        #expect(first == 0.25)
    }

    @Test("Truncated, lying and inconsistent model files are rejected")
    func rejectsBadFiles() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/m.safetensors"
        try ModelFile.write(try model(latent: 1), metadata: [:], to: path)
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let truncated = directory.file("t.safetensors", bytes: Array(bytes.dropLast(5)))
        #expect(throws: MFAError.self) { try ModelFile.read(truncated) }
        let lying = directory.file("l.safetensors", bytes: [255, 255, 255, 255, 0, 0, 0, 0] + bytes.dropFirst(8))
        #expect(throws: MFAError.self) { try ModelFile.read(lying) }
        let garbage = directory.file("g.safetensors", bytes: Array("not a model at all".utf8))
        #expect(throws: MFAError.self) { try ModelFile.read(garbage) }
        // Consistent file, inconsistent model: noise_variances for a different d.
        try Safetensors.write(["weights": Tensor(shape: [1], values: [1]), "means": Tensor(shape: [1, 2], values: [0, 0]),
                               "loadings": Tensor(shape: [1, 2, 0], values: []),
                               "noise_variances": Tensor(shape: [1, 3], values: [1, 1, 1])],
                              metadata: ["kind": "mfa"], to: path)
        #expect(throws: MFAError.self) { try ModelFile.read(path) }
    }

    @Test("Writing never leaves a torn file: a failed write keeps the old model")
    func failedWriteKeepsOldFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/m.safetensors"
        try ModelFile.write(try model(latent: 1), metadata: [:], to: path)
        let before = FileManager.default.contents(atPath: path)
        #expect(throws: MFAError.self) {
            try Safetensors.write(["bad": Tensor(shape: [3], values: [1])], metadata: [:], to: path)
        }
        #expect(FileManager.default.contents(atPath: path) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["m.safetensors"])
    }
}

@Suite struct DGMMModelFileTests {
    func model() throws -> DGMMModel {
        let shape = try DGMMShape(dimension: 4, components: [2, 3], latent: [2, 1])
        return try DGMMModel(shape: shape, layers: [
            DGMMLayer(weights: [0.4, 0.6], means: (0..<8).map { Float($0) }, loadings: (0..<16).map { Float($0) / 20 },
                      noiseVariances: [Float](repeating: 0.5, count: 8)),
            DGMMLayer(weights: [0.2, 0.3, 0.5], means: (0..<6).map { -Float($0) }, loadings: (0..<6).map { Float($0) / 7 },
                      noiseVariances: [1, 2, 3, 1, 2, 3]),
        ])
    }

    @Test("A DGMM round-trips with its layers, and reads back as its mixture over paths")
    func roundTrip() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/d.safetensors"
        let original = try model()
        try ModelFile.write(original, metadata: ["training.seed": "2"], to: path)
        let contents = try ModelFile.read(path)
        #expect(contents.dgmm == original && contents.metadata["kind"] == "dgmm" && contents.metadata["training.seed"] == "2")
        #expect(contents.model.shape == (try MixtureShape(components: 6, dimension: 4, latent: 2)))
        let (tensors, _) = try Safetensors.read(path: path)
        #expect(tensors["layers.2.loadings"]?.shape == [3, 2, 1] && tensors["layers.1.means"]?.shape == [2, 4])
    }

    @Test("DGMM files with missing or inconsistent layers are rejected")
    func rejectsBadFiles() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/d.safetensors"
        try ModelFile.write(try model(), metadata: [:], to: path)
        var (tensors, metadata) = try Safetensors.read(path: path)
        let good = tensors
        tensors["layers.2.noise_variances"] = nil
        try Safetensors.write(tensors, metadata: metadata, to: path)
        #expect(throws: MFAError.self) { try ModelFile.read(path) }
        tensors = good
        tensors["layers.2.means"] = Tensor(shape: [3, 3], values: [Float](repeating: 0, count: 9))  // R_1 is 2
        try Safetensors.write(tensors, metadata: metadata, to: path)
        #expect(throws: MFAError.self) { try ModelFile.read(path) }
        tensors = good
        tensors["layers.1.noise_variances"] = Tensor(shape: [2, 4], values: [Float](repeating: -1, count: 8))
        try Safetensors.write(tensors, metadata: metadata, to: path)
        #expect(throws: MFAError.self) { try ModelFile.read(path) }
        metadata["kind"] = "hmm"
        try Safetensors.write(good, metadata: metadata, to: path)
        #expect(throws: MFAError.self) { try ModelFile.read(path) }
    }
}
