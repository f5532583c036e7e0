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
        var sums = MomentSums(columns: columns)
        try streamRows { _, row in sums.add(row) }
        return sums.moments
    }

    /// Every row once, in order and as float64, block by block, each block released after its rows.
    func streamRows(_ body: (Int, UnsafeBufferPointer<Double>) throws -> Void) throws {
        var row = [Double](repeating: 0, count: columns)
        let chunk = max(blockRows ?? rows, 1)
        for start in stride(from: 0, to: rows, by: chunk) {
            let end = min(start + chunk, rows)
            for index in start..<end {
                try row.withUnsafeMutableBufferPointer { try copyRow(index, intoDoubles: $0.baseAddress!) }
                try row.withUnsafeBufferPointer { try body(index, $0) }
            }
            release(start..<end)
        }
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

/// Running sums for column moments, on the values less a shift (the first row added, unless
/// given), so that a column far from zero keeps its variance's digits.
struct MomentSums {
    var shift: [Double]?
    var sum: [Double], square: [Double]
    private(set) var count = 0

    init(columns: Int, shift: [Double]? = nil) {
        self.shift = shift
        sum = [Double](repeating: 0, count: columns)
        square = sum
    }

    mutating func add(_ row: UnsafeBufferPointer<Double>) {
        if shift == nil { shift = Array(row) }
        for c in 0..<row.count {
            let x = row[c] - shift![c]
            sum[c] += x
            square[c] += x * x
        }
        count += 1
    }

    /// Mean and population variance of the rows added.
    var moments: ColumnMoments {
        let n = Double(max(count, 1))
        var (mean, variance) = (sum, square)
        for c in 0..<sum.count {
            mean[c] /= n
            variance[c] = max(variance[c] / n - mean[c] * mean[c], 0)
            mean[c] += shift?[c] ?? 0
        }
        return (mean, variance)
    }
}
