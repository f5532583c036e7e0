/// Where training and evaluation read samples from: a `Matrix` in memory, or a file streamed
/// block by block (MFAIO's `MappedNumpy`) when the data are larger than memory.
public protocol SampleSource {
    var rows: Int { get }
    var columns: Int { get }
    /// Copies row `index` into `target` (`columns` floats); throws on non-finite values.
    func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws
    /// Rows per block, for sources that page from disk: training shuffles the order of the blocks
    /// and the rows within each block, so that one block at a time is resident. nil: shuffle freely.
    var blockRows: Int? { get }
    /// The rows in `range` will not be read again soon (a mapped source drops their pages).
    func release(_ range: Range<Int>)
    /// Row `index` as float64: exact for a source that holds float64 (a float64 `.npy`), the
    /// float32 row widened otherwise. The float64 engine (`Backend.keepsDoubles`) reads this.
    func copyRow(_ index: Int, intoDoubles target: UnsafeMutablePointer<Double>) throws
}

/// Per-column mean and (population) variance, in float64.
public typealias ColumnMoments = (mean: [Double], variance: [Double])

extension SampleSource {
    public var blockRows: Int? { nil }
    public func release(_ range: Range<Int>) {}

    public func copyRow(_ index: Int, intoDoubles target: UnsafeMutablePointer<Double>) throws {
        try withUnsafeTemporaryAllocation(of: Float.self, capacity: columns) { row in
            try copyRow(index, into: row.baseAddress!)
            for c in 0..<columns { target[c] = Double(row[c]) }
        }
    }

    /// The rows at `indices`, in memory.
    public func gathering(rows indices: [Int]) throws -> Matrix {
        var values = [Float](repeating: 0, count: indices.count * columns)
        try values.withUnsafeMutableBufferPointer { target in
            for (n, index) in indices.enumerated() { try copyRow(index, into: target.baseAddress! + n * columns) }
        }
        return Matrix(unchecked: indices.count, columns, values)
    }

    /// Per-column mean and (population) variance in float64, in one streaming pass, on the values
    /// shifted by the first row (so that a column far from zero keeps its variance's digits).
    public func columnMoments() throws -> ColumnMoments {
        var mean = [Double](repeating: 0, count: columns), square = mean
        var row = [Double](repeating: 0, count: columns), shift = row
        if rows > 0 { try shift.withUnsafeMutableBufferPointer { try copyRow(0, intoDoubles: $0.baseAddress!) } }
        let chunk = blockRows ?? rows
        for start in stride(from: 0, to: rows, by: max(chunk, 1)) {
            let end = min(start + max(chunk, 1), rows)
            for index in start..<end {
                try row.withUnsafeMutableBufferPointer { try copyRow(index, intoDoubles: $0.baseAddress!) }
                for c in 0..<columns {
                    let x = row[c] - shift[c]
                    mean[c] += x
                    square[c] += x * x
                }
            }
            release(start..<end)
        }
        let n = Double(max(rows, 1))
        for c in 0..<columns {
            mean[c] /= n
            square[c] = max(square[c] / n - mean[c] * mean[c], 0)
            mean[c] += shift[c]
        }
        return (mean, square)
    }

    /// A visiting order for one epoch: every row once. Sources with blocks get the blocks in random
    /// order and the rows of each block in random order, with `blockEnds` the positions where each
    /// block's rows end; others get a plain permutation (one block).
    public func epochOrder(random: inout RandomGenerator) -> (order: [Int], blockEnds: [Int], blocks: [Range<Int>]) {
        guard let size = blockRows, size < rows else {
            var order = Array(0..<rows)
            order.shuffle(using: &random)
            return (order, [rows], [0..<rows])
        }
        var blocks = stride(from: 0, to: rows, by: size).map { $0..<min($0 + size, rows) }
        blocks.shuffle(using: &random)
        var order = [Int](), ends = [Int]()
        order.reserveCapacity(rows)
        for block in blocks {
            var rowsOfBlock = Array(block)
            rowsOfBlock.shuffle(using: &random)
            order += rowsOfBlock
            ends.append(order.count)
        }
        return (order, ends, blocks)
    }
}

extension Matrix: SampleSource {
    public func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws {
        values.withUnsafeBufferPointer { target.update(from: $0.baseAddress! + index * columns, count: columns) }
    }
}
