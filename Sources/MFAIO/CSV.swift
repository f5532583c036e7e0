import Foundation
import MFA

/// Numeric CSV as people write it: comma-separated numbers, one sample per line, fields
/// optionally in double quotes (R quotes its row names).
/// - A first line of column names is a header, said through `Options.note`. pandas' default
///   names for an unnamed frame (",0,1,2,…" after its index) count as names too.
/// - `skipColumns` drops leading columns on every line: a pandas index, R's row names.
/// - A field that is not a number is an error naming its line and column (in the file's own
///   numbering), quoting at most 20 characters of it.
/// - Missing values (an empty field, NA, N/A, NaN) are an error naming the place, unless
///   `missingAllowed`, when they read as NaN (`mfa reconstruct` fills them in).
public enum CSV {
    public struct Options: Sendable {
        public var skipColumns: Int
        public var missingAllowed: Bool
        /// Told about what was guessed (a header line), for the user to see.
        public var note: (@Sendable (String) -> Void)?

        public init(skipColumns: Int = 0, missingAllowed: Bool = false, note: (@Sendable (String) -> Void)? = nil) {
            self.skipColumns = skipColumns
            self.missingAllowed = missingAllowed
            self.note = note
        }
    }

    static let missingMarkers: Set<String> = ["", "NA", "N/A", "NaN", "nan", "NAN"]

    public static func parse(_ bytes: [UInt8], path: String, options: Options = Options()) throws -> Matrix {
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw MFAError.malformedFile(path: path, reason: "not UTF-8 text (and not .npy or IDX)")
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        var values = [Float]()
        var columns: Int?
        var rows = 0
        for (number, line) in lines.enumerated() {
            let raw = fields(line)
            guard raw.count > options.skipColumns else {
                throw MFAError.malformedFile(path: path, reason: "line \(number + 1) has \(raw.count) fields; --skip-columns \(options.skipColumns) leaves none")
            }
            let kept = Array(raw.dropFirst(options.skipColumns))
            if number == 0, isHeader(raw, kept: kept) {
                var message = "\(path): line 1 read as column names (\(kept.prefix(5).joined(separator: ", "))\(kept.count > 5 ? ", …" : ""))"
                if options.skipColumns == 0, raw.first == "" {
                    message += "; its first column has no name, as a pandas index or R row names: drop it with --skip-columns 1"
                }
                options.note?(message)
                continue
            }
            if let columns, kept.count != columns {
                throw MFAError.malformedFile(path: path, reason: "line \(number + 1) has \(raw.count) fields, expected \(columns + options.skipColumns)")
            }
            columns = kept.count
            for (index, field) in kept.enumerated() {
                let place = "line \(number + 1), column \(index + options.skipColumns + 1)"
                if missingMarkers.contains(field) {
                    guard options.missingAllowed else {
                        throw MFAError.malformedFile(path: path, reason: "\(place) is \(field.isEmpty ? "empty" : field) (a missing value; only `mfa reconstruct` fills those in)")
                    }
                    values.append(.nan)
                    continue
                }
                guard let value = Double(field) else {
                    let shown = field.count > 20 ? field.prefix(20) + "…" : Substring(field)
                    throw MFAError.malformedFile(path: path, reason: "\(place): '\(shown)' is not a number")
                }
                guard value.isFinite, Float(value).isFinite else {
                    throw MFAError.nonFiniteInput("\(path): \(place) is \(field)")
                }
                values.append(Float(value))
            }
            rows += 1
        }
        guard let columns, rows > 0 else { throw MFAError.malformedFile(path: path, reason: "no numeric rows") }
        return try Matrix(rows: rows, columns: columns, values: values)
    }

    /// The fields of one line, trimmed, without their surrounding double quotes.
    static func fields(_ line: Substring) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { field in
            var text = field.trimmingCharacters(in: .whitespaces)
            if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
            return text
        }
    }

    /// Column names: some kept field is neither a number nor a missing value; or pandas' names
    /// for an unnamed frame, an empty index name then 0, 1, 2, ….
    static func isHeader(_ raw: [String], kept: [String]) -> Bool {
        if kept.contains(where: { Double($0) == nil && !missingMarkers.contains($0) }) { return true }
        return raw.count > 1 && raw[0].isEmpty && raw.dropFirst().enumerated().allSatisfy { $0.element == String($0.offset) }
    }
}
