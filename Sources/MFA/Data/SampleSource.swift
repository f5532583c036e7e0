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
}

/// Per-column mean and (population) variance, in float64.
public typealias ColumnMoments = (mean: [Double], variance: [Double])

extension SampleSource {
    public var blockRows: Int? { nil }
    public func release(_ range: Range<Int>) {}

    /// The rows at `indices`, in memory.
    public func gathering(rows indices: [Int]) throws -> Matrix {
        var values = [Float](repeating: 0, count: indices.count * columns)
        try values.withUnsafeMutableBufferPointer { target in
            for (n, index) in indices.enumerated() { try copyRow(index, into: target.baseAddress! + n * columns) }
        }
        return Matrix(unchecked: indices.count, columns, values)
    }

    /// Per-column mean and (population) variance in float64, in one streaming pass.
    public func columnMoments() throws -> ColumnMoments {
        var mean = [Double](repeating: 0, count: columns), square = mean
        var row = [Float](repeating: 0, count: columns)
        let chunk = blockRows ?? rows
        for start in stride(from: 0, to: rows, by: max(chunk, 1)) {
            let end = min(start + max(chunk, 1), rows)
            for index in start..<end {
                try row.withUnsafeMutableBufferPointer { try copyRow(index, into: $0.baseAddress!) }
                for c in 0..<columns {
                    let x = Double(row[c])
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
