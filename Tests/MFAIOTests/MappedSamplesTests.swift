import Foundation
import MFA
import MFAIO
import Testing

@Suite struct MappedSamplesTests {
    @Test("A mapped .npy reads the same rows as the in-memory reader, for float32, float64 and uint8",
          arguments: ["<f4", "<f8", "|u1"])
    func mappedRowsEqualLoadedRows(dtype: String) throws {
        let directory = TemporaryDirectory()
        var values: [Double] = (0..<(37 * 5)).map { Double($0 % 251) }
        if dtype != "|u1" { values = values.map { $0 / 7 - 3 } }
        let path = directory.path + "/x.npy"
        if dtype == "|u1" {
            let bytes = npyBytes(descr: "|u1", shape: "(37, 5)", data: values.map { UInt8($0) })
            _ = directory.file("x.npy", bytes: bytes)
        } else {
            try Numpy.write(values, shape: [37, 5], dtype: dtype, to: path)
        }
        let mapped = try MappedSamples(path: path), loaded = try DataFile.load(path).samples
        #expect(mapped.rows == 37 && mapped.columns == 5)
        #expect(try mapped.gathering(rows: Array(0..<37)) == loaded)
        mapped.release(0..<37)  // dropping pages loses nothing: they are read again from the file
        #expect(try mapped.gathering(rows: [36, 0]) == loaded.gathering(rows: [36, 0]))
    }

    @Test("A float64 .npy reads exactly as float64 (1e8 + 0.1 keeps its 0.1), and the column moments keep a far column's variance")
    func float64RowsAreExact() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/x.npy"
        var values = [Double]()
        for n in 0..<200 {
            let far: Double = n % 2 == 0 ? 1e8 - 0.1 : 1e8 + 0.1
            values += [far, Double(n)]
        }
        try Numpy.write(values, shape: [200, 2], dtype: "<f8", to: path)
        let mapped = try MappedSamples(path: path)
        var row = [Double](repeating: 0, count: 2)
        try row.withUnsafeMutableBufferPointer { try mapped.copyRow(1, intoDoubles: $0.baseAddress!) }
        #expect(row == [1e8 + 0.1, 1])
        let moments = try mapped.columnMoments()
        #expect(abs(moments.variance[0] - 0.01) < 1e-6, "variance \(moments.variance[0])")
        #expect(abs(moments.mean[0] - 1e8) < 1e-6)
    }

    @Test("An uncompressed IDX file is mapped too, and reads as the in-memory reader does")
    func mappedIDX() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("images-idx3-ubyte", bytes: [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2] + (0..<12).map { UInt8($0 * 20) })
        let (source, image) = try DataFile.open(path)
        #expect(source is MappedSamples && image == ImageShape(height: 2, width: 2))
        #expect(try source.gathering(rows: [0, 1, 2]) == DataFile.load(path).samples)
    }

    @Test("Block order visits every row once, a block at a time")
    func blockOrderCoversEveryRow() throws {
        struct Blocks: SampleSource {
            let rows = 1000, columns = 1
            var blockRows: Int? { 64 }
            func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws { target[0] = Float(index) }
        }
        var random = RandomGenerator(seed: 1)
        let (order, ends, blocks) = Blocks().epochOrder(random: &random)
        #expect(order.sorted() == Array(0..<1000))
        #expect(ends.last == 1000 && blocks.count == ends.count)
        var start = 0
        for (end, block) in zip(ends, blocks) {
            #expect(Set(order[start..<end]) == Set(block))
            start = end
        }
    }

    @Test("Truncated, lying and NaN-bearing mapped files are refused with a clear error")
    func refusesBadFiles() throws {
        let directory = TemporaryDirectory()
        let short = directory.file("short.npy", bytes: npyBytes(descr: "<f4", shape: "(4, 2)", data: floatBytes([1, 2, 3])))
        #expect(throws: MFAError.self) { _ = try MappedSamples(path: short) }
        let nan = directory.file("nan.npy", bytes: npyBytes(descr: "<f4", shape: "(2, 2)", data: floatBytes([1, 2, .nan, 4])))
        let mapped = try MappedSamples(path: nan)
        #expect(throws: MFAError.nonFiniteInput("\(nan) holds nan at row 1, column 0")) { _ = try mapped.gathering(rows: [1]) }
        #expect(throws: MFAError.self) { _ = try MappedSamples(path: directory.path + "/missing.npy") }
    }
}
