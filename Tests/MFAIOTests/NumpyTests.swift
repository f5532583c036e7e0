import Foundation
import MFA
import MFAIO
import Testing

@Suite struct NumpyTests {
    @Test("float64, float32 and int64 arrays round-trip through write and read")
    func roundTrip() throws {
        let directory = TemporaryDirectory()
        for dtype in ["<f8", "<f4", "<i8"] {
            let values: [Double] = dtype == "<i8" ? [1, -2, 3, 1e6, -7, 0] : [1.5, -2.25, 3, 1e6, -7, 0]
            let path = directory.path + "/a\(dtype.dropFirst()).npy"
            try Numpy.write(values, shape: [2, 3], dtype: dtype, to: path)
            let array = try Numpy.read(path: path)
            #expect(array.shape == [2, 3])
            #expect(array.dtype == dtype)
            #expect(array.values == values.map(Float.init))
        }
    }

    @Test("uint8 images are flattened to N×(H·W), scaled to [0, 1], and keep their image shape")
    func bytesAreScaledPixels() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("images.npy", bytes: npyBytes(descr: "|u1", shape: "(2, 2, 3)", data: [0, 51, 102, 153, 204, 255, 0, 0, 0, 0, 0, 255]))
        let dataset = try DataFile.load(path)
        #expect(dataset.samples.rows == 2 && dataset.samples.columns == 6)
        #expect(dataset.samples.values[5] == 1 && abs(dataset.samples.values[1] - 0.2) < 1e-6)
        #expect(dataset.imageShape == ImageShape(height: 2, width: 3))
    }

    @Test("Big-endian float32 is read correctly")
    func bigEndian() throws {
        let directory = TemporaryDirectory()
        let be = floatBytes([1.5, -3]).chunked4().flatMap { $0.reversed() }
        let array = try Numpy.read(path: directory.file("be.npy", bytes: npyBytes(descr: ">f4", shape: "(2,)", data: be)))
        #expect(array.values == [1.5, -3])
    }

    @Test("Malformed .npy files are rejected with a one-line reason", arguments: [
        ("truncated data", npyBytes(descr: "<f4", shape: "(2, 2)", data: floatBytes([1, 2, 3]))),
        ("lying header", npyBytes(descr: "<f4", shape: "(100000000000, 1000000000)", data: floatBytes([1]))),
        ("trailing bytes", npyBytes(descr: "<f4", shape: "(1, 1)", data: floatBytes([1, 2]))),
        ("fortran order", npyBytes(descr: "<f4", shape: "(1, 1)", fortran: true, data: floatBytes([1]))),
        ("unsupported dtype", npyBytes(descr: "<c8", shape: "(1,)", data: [UInt8](repeating: 0, count: 8))),
        ("truncated header", Array(npyBytes(descr: "<f4", shape: "(1,)", data: []).prefix(20))),
        ("wrong magic", [0x93] + Array("NUMPZ".utf8) + [1, 0, 0, 0]),
    ])
    func rejectsMalformed(name: String, bytes: [UInt8]) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("bad.npy", bytes: bytes)
        do {
            _ = try Numpy.read(path: path)
            Issue.record("\(name) was accepted")
        } catch let error as MFAError {
            guard case .malformedFile(let file, let reason) = error else {
                Issue.record("\(name): unexpected error \(error)")
                return
            }
            #expect(file == path && !reason.isEmpty && !reason.contains("\n"))
        }
    }

    @Test("NaN or infinity in data is rejected with its position")
    func rejectsNonFinite() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("nan.npy", bytes: npyBytes(descr: "<f4", shape: "(2, 2)", data: floatBytes([1, 2, 3, .nan])))
        #expect(throws: MFAError.nonFiniteInput("\(path) holds nan at row 1, column 1")) { try DataFile.load(path) }
    }

    @Test("A boolean array (numpy's |b1, e.g. np.isnan(X)) reads as 0 and 1")
    func booleans() throws {
        let directory = TemporaryDirectory()
        let array = try Numpy.read(path: directory.file("mask.npy", bytes: npyBytes(descr: "|b1", shape: "(2, 2)", data: [0, 1, 1, 0])))
        #expect(array.values == [0, 1, 1, 0] && array.shape == [2, 2])
    }
}

extension Array where Element == UInt8 {
    func chunked4() -> [[UInt8]] { stride(from: 0, to: count, by: 4).map { Array(self[$0..<Swift.min($0 + 4, count)]) } }
}
