import CZlib
import Foundation
import MFA
import MFAIO
import Testing

@Suite struct CSVTests {
    @Test("A header line is detected and skipped")
    func headerDetected() throws {
        let directory = TemporaryDirectory()
        let dataset = try DataFile.load(directory.file("h.csv", text: "a,b,c\n1,2,3\n4, 5 ,6\n\n"))
        #expect(dataset.samples == (try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])))
    }

    @Test("CSV without a header keeps its first row")
    func noHeader() throws {
        let directory = TemporaryDirectory()
        #expect(try DataFile.load(directory.file("n.csv", text: "1,2\n3,4\n")).samples.rows == 2)
    }

    @Test("Ragged rows, non-numbers and NaN are rejected naming the line")
    func rejectsBadRows() throws {
        let directory = TemporaryDirectory()
        let ragged = directory.file("r.csv", text: "1,2,3\n4,5\n")
        #expect(throws: MFAError.malformedFile(path: ragged, reason: "line 2 has 2 fields, expected 3")) { try DataFile.load(ragged) }
        let word = directory.file("w.csv", text: "1,2\n3,x\n")
        #expect(throws: MFAError.malformedFile(path: word, reason: "line 2, column 2: 'x' is not a number")) { try DataFile.load(word) }
        let infinite = directory.file("inf.csv", text: "1,2\ninf,4\n")
        #expect(throws: MFAError.nonFiniteInput("\(infinite): line 2, column 1 is inf")) { try DataFile.load(infinite) }
    }

    @Test("A header of column names is reported, with a hint when its first column is a pandas index")
    func headerIsReported() throws {
        let directory = TemporaryDirectory()
        let notes = NoteCollector()
        let plain = try DataFile.load(directory.file("h.csv", text: "height,weight\n1,2\n"), csv: CSV.Options(note: notes.add))
        #expect(plain.samples.rows == 1)
        #expect(notes.all == ["\(directory.path)/h.csv: line 1 read as column names (height, weight)"])
        let indexed = directory.file("i.csv", text: ",height,weight\n0,1,2\n1,3,4\n")
        _ = try DataFile.load(indexed, csv: CSV.Options(note: notes.add))
        #expect(notes.all.last?.hasSuffix("drop it with --skip-columns 1") == true)
    }

    @Test("--skip-columns drops a pandas index or R's quoted row names", arguments: [
        ",height,weight\n0,1,2\n1,3,4\n",        // pandas, named columns
        ",0,1\n0,1,2\n1,3,4\n",                  // pandas, an unnamed frame: its column names are 0, 1, …
        "\"\",\"height\",\"weight\"\n\"1\",1,2\n\"2\",3,4\n",  // R's write.csv
    ])
    func skipColumns(text: String) throws {
        let directory = TemporaryDirectory()
        let dataset = try DataFile.load(directory.file("d.csv", text: text), csv: CSV.Options(skipColumns: 1))
        #expect(dataset.samples == (try Matrix(rows: 2, columns: 2, values: [1, 2, 3, 4])))
    }

    @Test("A bad field is reported by line and column, quoting at most 20 characters of it")
    func badFieldPlace() throws {
        let directory = TemporaryDirectory()
        let long = String(repeating: "x", count: 500)
        let path = directory.file("b.csv", text: "1,2,3\n4,5,\(long)\n")
        #expect(throws: MFAError.malformedFile(path: path, reason: "line 2, column 3: '\(String(repeating: "x", count: 20))…' is not a number")) {
            try DataFile.load(path)
        }
    }

    @Test("NA and empty fields are an error naming the place, or NaN where missing values are allowed", arguments: ["NA", "", "nan"])
    func missingValues(marker: String) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("m.csv", text: "1,2\n3,\(marker)\n")
        #expect {
            try DataFile.load(path)
        } throws: { error in
            "\(error)".contains("line 2, column 2 is") && "\(error)".contains("missing value")
        }
        let allowed = try DataFile.load(path, csv: CSV.Options(missingAllowed: true)).samples
        #expect(allowed.values[0...2] == [1, 2, 3] && allowed.values[3].isNaN)
    }
}

/// Collects a reader's notes (thread-safe, as `CSV.Options.note` must be `Sendable`).
final class NoteCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var notes = [String]()
    var all: [String] { lock.withLock { notes } }
    func add(_ note: String) { lock.withLock { notes.append(note) } }
}

@Suite struct IDXTests {
    /// Three 2×2 ubyte images.
    let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2] + [0, 255, 51, 0, 1, 2, 3, 4, 255, 255, 255, 255]

    @Test("IDX images read as N×(H·W) pixels in [0, 1], plain and gzipped")
    func readsPlainAndGzipped() throws {
        let directory = TemporaryDirectory()
        let plain = try DataFile.load(directory.file("images-idx3-ubyte", bytes: images))
        #expect(plain.samples.rows == 3 && plain.samples.columns == 4)
        #expect(plain.samples.values[1] == 1 && plain.imageShape == ImageShape(height: 2, width: 2))
        let gzipped = try DataFile.load(directory.file("images-idx3-ubyte.gz", bytes: gzip(images)))
        #expect(gzipped.samples == plain.samples)
    }

    @Test("Labels read as integers")
    func readsLabels() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("labels", bytes: [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9])
        #expect(try DataFile.loadLabels(path) == [7, 0, 9])
    }

    @Test("Truncated IDX files and corrupt gzip streams are rejected")
    func rejectsTruncated() throws {
        let directory = TemporaryDirectory()
        let short = directory.file("short", bytes: Array(images.dropLast()))
        #expect(throws: MFAError.self) { try DataFile.load(short) }
        let corrupt = directory.file("corrupt.gz", bytes: Array(gzip(images).dropLast(6)))
        #expect(throws: MFAError.self) { try DataFile.load(corrupt) }
        let missing = directory.path + "/missing"
        #expect(throws: MFAError.fileAccess(path: missing, reason: "no such file")) { try DataFile.load(missing) }
    }

    func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        var input = bytes
        var output = [UInt8](repeating: 0, count: 1024)
        input.withUnsafeMutableBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                deflate(&stream, Z_FINISH)
            }
        }
        let produced = Int(stream.total_out)
        deflateEnd(&stream)
        return Array(output[0..<produced])
    }
}
