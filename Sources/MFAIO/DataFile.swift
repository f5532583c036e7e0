import Foundation
import MFA

/// Samples read from a data file, one row each.
public struct Dataset: Sendable {
    public var samples: Matrix
    /// Height and width when the file held images (N×H×W), for sample grids.
    public var imageShape: ImageShape?

    public init(samples: Matrix, imageShape: ImageShape? = nil) {
        self.samples = samples
        self.imageShape = imageShape
    }
}

public struct ImageShape: Sendable, Equatable, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    /// Parses "HxW".
    public init?(_ text: String) {
        let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { return nil }
        self.init(height: parts[0], width: parts[1])
    }

    public var description: String { "\(height)x\(width)" }
}

/// Reads data files by their content, not their name: `.npy`, IDX (gzipped or not) or CSV.
/// Unsigned-byte data (pixels) are scaled to [0, 1]; N×H×W arrays are flattened to N×(H·W).
/// NaN or infinite values are rejected with their position.
public enum DataFile {
    /// `csv` says how CSV files are read; its `missingAllowed` also lets NaN through in .npy and IDX
    /// files (as missing values, for `mfa reconstruct`).
    public static func load(_ path: String, csv: CSV.Options = CSV.Options()) throws -> Dataset {
        try parse(readFile(path), path: path, csv: csv)
    }

    /// The same from bytes already read (`path` names them in errors).
    public static func parse(_ raw: [UInt8], path: String, csv: CSV.Options = CSV.Options()) throws -> Dataset {
        var bytes = raw
        if Gzip.isCompressed(bytes) { bytes = try Gzip.decompress(bytes, path: path) }
        let dataset: Dataset
        if Numpy.isNumpy(bytes) {
            dataset = try makeDataset(from: Numpy.parse(bytes, path: path), path: path)
        } else if IDX.isIDX(bytes) {
            dataset = try makeDataset(from: IDX.parse(bytes, path: path), path: path)
        } else {
            dataset = Dataset(samples: try CSV.parse(bytes, path: path, options: csv))
        }
        if csv.missingAllowed, let index = dataset.samples.values.firstIndex(where: { $0.isInfinite }) {
            let columns = max(dataset.samples.columns, 1)
            throw MFAError.nonFiniteInput("\(path) holds \(dataset.samples.values[index]) at row \(index / columns), column \(index % columns)")
        } else if !csv.missingAllowed {
            try dataset.samples.validateFinite(name: path)
        }
        guard dataset.samples.rows > 0, dataset.samples.columns > 0 else {
            throw MFAError.malformedFile(path: path, reason: "holds no samples")
        }
        return dataset
    }

    static func makeDataset(from array: consuming NumpyArray, path: String) throws -> Dataset {
        guard let rows = array.shape.first else {
            throw MFAError.malformedFile(path: path, reason: "a scalar is not a data set")
        }
        let columns = checkedProduct(Array(array.shape.dropFirst())) ?? 0
        // Scaled in place: a copy of Fashion-MNIST's 188 MB cost a third of a second.
        var values = array.values
        array.values = []
        if array.isBytes { values.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] /= 255 } } }
        let image = array.shape.count == 3 ? ImageShape(height: array.shape[1], width: array.shape[2]) : nil
        return Dataset(samples: try Matrix(rows: rows, columns: columns, values: values), imageShape: image)
    }

    /// A source to train from: uncompressed `.npy` and IDX files are memory-mapped and streamed
    /// (data larger than memory); gzipped and CSV files are read into memory as by `load`.
    public static func open(_ path: String, csv: CSV.Options = CSV.Options()) throws -> (samples: any SampleSource, imageShape: ImageShape?) {
        // POSIX reads: FileHandle.readData traps (SIGILL) on a directory instead of throwing.
        try FileIdentity.checkReadable(path)
        var magic = [UInt8](repeating: 0, count: 6)
        let descriptor = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw MFAError.fileAccess(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))") }
        magic.removeLast(6 - max(0, pread(descriptor, &magic, 6, 0)))
        close(descriptor)
        if Numpy.isNumpy(magic) || IDX.isIDX(magic) {
            let mapped = try MappedSamples(path: path)
            return (mapped, mapped.imageShape)
        }
        let dataset = try load(path, csv: csv)
        return (dataset.samples, dataset.imageShape)
    }

    /// Integer labels, one per sample (for evaluation scripts): `.npy` or IDX.
    public static func loadLabels(_ path: String) throws -> [Int] {
        let (values, columns) = try loadLabelTable(path)
        guard columns == 1 else {
            throw MFAError.malformedFile(path: path, reason: "labels must be one-dimensional, got \(columns) columns")
        }
        return values
    }

    /// Integer labels, one-dimensional [N] or a table [N, C] (row-major), and C.
    public static func loadLabelTable(_ path: String) throws -> (values: [Int], columns: Int) {
        var bytes = try readFile(path)
        if Gzip.isCompressed(bytes) { bytes = try Gzip.decompress(bytes, path: path) }
        let array = Numpy.isNumpy(bytes) ? try Numpy.parse(bytes, path: path) : try IDX.parse(bytes, path: path)
        guard (1...2).contains(array.shape.count), array.values.allSatisfy({ $0.isFinite && $0 == $0.rounded() }) else {
            throw MFAError.malformedFile(path: path, reason: "labels must be integers of shape [N] or [N, C], got shape \(array.shape)")
        }
        return (array.values.map { Int($0) }, array.shape.count == 2 ? array.shape[1] : 1)
    }
}
