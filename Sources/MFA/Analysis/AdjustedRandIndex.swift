/// The adjusted Rand index of two partitions (Hubert & Arabie 1985): 1 for identical partitions up
/// to relabelling, about 0 for independent ones.
public func adjustedRandIndex(_ a: [Int], _ b: [Int]) throws -> Double {
    guard a.count == b.count else {
        throw MFAError.shapeMismatch("the label sets have \(a.count) and \(b.count) entries")
    }
    guard a.count >= 2 else { throw MFAError.invalidArgument("the adjusted Rand index needs at least 2 labels") }
    var table = [Pair: Int](), rows = [Int: Int](), columns = [Int: Int]()
    for (x, y) in zip(a, b) {
        table[Pair(x: x, y: y), default: 0] += 1
        rows[x, default: 0] += 1
        columns[y, default: 0] += 1
    }
    func pairs(_ n: Int) -> Double { Double(n) * Double(n - 1) / 2 }
    let index = table.values.reduce(0) { $0 + pairs($1) }
    let rowPairs = rows.values.reduce(0) { $0 + pairs($1) }, columnPairs = columns.values.reduce(0) { $0 + pairs($1) }
    let expected = rowPairs * columnPairs / pairs(a.count)
    let maximum = (rowPairs + columnPairs) / 2
    // Both partitions trivial (one cluster each, or all singletons): they agree perfectly.
    guard maximum != expected else { return 1 }
    return (index - expected) / (maximum - expected)
}

private struct Pair: Hashable {
    let x: Int
    let y: Int
}
