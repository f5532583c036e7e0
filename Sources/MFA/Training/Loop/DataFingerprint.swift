/// Identifies training data cheaply, so that a checkpoint is not resumed on other data: the row
/// and column counts and a hash of up to 64 rows spread evenly through the file (their float32
/// bits, FNV-1a). Checkpoints of an earlier release recorded the row count only (`hash` nil).
public struct DataFingerprint: Sendable, Equatable {
    public var rows: Int
    public var columns: Int?
    public var hash: UInt64?

    public init(rows: Int, columns: Int?, hash: UInt64?) {
        self.rows = rows
        self.columns = columns
        self.hash = hash
    }

    public init(_ data: some SampleSource) throws {
        rows = data.rows
        columns = data.columns
        var hasher = FNV1a()
        var row = [Float](repeating: 0, count: data.columns)
        let picks = Set((0..<min(64, data.rows)).map { $0 * data.rows / min(64, data.rows) })
        for index in picks.sorted() {
            try row.withUnsafeMutableBufferPointer { try data.copyRow(index, into: $0.baseAddress!) }
            hasher.add(row)
        }
        hash = hasher.value
    }

    /// The first way `other` differs, as text for both sides; nil when they agree on what both recorded.
    func difference(from other: DataFingerprint) -> (saved: String, current: String)? {
        if rows != other.rows { return ("\(rows) rows", "\(other.rows) rows") }
        if let columns, let otherColumns = other.columns, columns != otherColumns {
            return ("\(columns) columns", "\(otherColumns) columns")
        }
        if let hash, let otherHash = other.hash, hash != otherHash {
            return ("rows hashing to \(String(hash, radix: 16))", "other values (hash \(String(otherHash, radix: 16)))")
        }
        return nil
    }
}

/// FNV-1a over float32 bits: cheap, and enough to tell data sets and starting models apart.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
    }

    mutating func add(_ values: [Float]) {
        for x in values {
            for byte in 0..<4 {
                value ^= UInt64((x.bitPattern >> (8 * UInt32(byte))) & 0xff)
                value &*= 0x0000_0100_0000_01b3
            }
        }
    }
}

/// Identifies a starting model (a warm start) among a run's settings.
func fingerprint(of values: [Float]) -> String {
    var hasher = FNV1a()
    hasher.add(values)
    return String(hasher.value, radix: 16)
}
