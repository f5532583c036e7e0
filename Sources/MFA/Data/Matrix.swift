/// A dense row-major float32 matrix: one row per sample.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) throws {
        guard rows >= 0, columns >= 0, values.count == rows * columns else {
            throw MFAError.shapeMismatch(
                "\(values.count) values cannot form a \(rows)×\(columns) matrix")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        self.rows = rows
        self.columns = columns
        self.values = [Float](repeating: value, count: rows * columns)
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    public func row(_ index: Int) -> ArraySlice<Float> {
        values[(index * columns)..<((index + 1) * columns)]
    }

    init(unchecked rows: Int, _ columns: Int, _ values: [Float]) {
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Throws if any value is NaN or infinite, naming the first offending row and column.
    public func validateFinite(name: String) throws {
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw MFAError.nonFiniteInput(
                "\(name) holds \(values[index]) at row \(index / max(columns, 1)), column \(index % max(columns, 1))")
        }
    }
}

/// Each column's median over the first `rows` rows of row-major `values` (the upper middle value
/// for an even count; 0 for no rows): the origin that far rows move little (k-means' distances,
/// training's outlier test).
func columnMedians<T: BinaryFloatingPoint>(_ values: [T], rows: Int, columns: Int) -> [T] {
    (0..<columns).map { j in
        let column = (0..<rows).map { values[$0 * columns + j] }.sorted()
        return column.isEmpty ? 0 : column[column.count / 2]
    }
}
