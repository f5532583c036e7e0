/// Consecutive rows of another source, as a source of their own (a process's share of the data).
public struct RowRange: SampleSource {
    public let base: any SampleSource
    public let range: Range<Int>

    public init(_ base: any SampleSource, rows range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= base.rows, "rows outside the source")
        self.base = base
        self.range = range
    }

    public var rows: Int { range.count }
    public var columns: Int { base.columns }
    public var blockRows: Int? { base.blockRows }

    public func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws {
        try base.copyRow(range.lowerBound + index, into: target)
    }

    public func copyRow(_ index: Int, intoDoubles target: UnsafeMutablePointer<Double>) throws {
        try base.copyRow(range.lowerBound + index, intoDoubles: target)
    }

    public func release(_ rows: Range<Int>) {
        base.release((range.lowerBound + rows.lowerBound)..<(range.lowerBound + rows.upperBound))
    }
}
