import Foundation
import MFA

/// Numeric CSV: comma-separated numbers, one sample per line; a first line that does not parse
/// as numbers is taken as a header and skipped.
public enum CSV {
    public static func parse(_ bytes: [UInt8], path: String) throws -> Matrix {
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw MFAError.malformedFile(path: path, reason: "not UTF-8 text")
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        var values = [Float]()
        var columns: Int?
        var rows = 0
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            let parsed = fields.map { Double($0) }
            if number == 0, parsed.contains(where: { $0 == nil }) { continue }  // header
            if let columns, fields.count != columns {
                throw MFAError.malformedFile(
                    path: path, reason: "line \(number + 1) has \(fields.count) fields, expected \(columns)")
            }
            columns = fields.count
            for (column, value) in parsed.enumerated() {
                guard let value else {
                    throw MFAError.malformedFile(
                        path: path, reason: "line \(number + 1), column \(column + 1): '\(fields[column])' is not a number")
                }
                guard value.isFinite, Float(value).isFinite else {
                    throw MFAError.nonFiniteInput("\(path): line \(number + 1), column \(column + 1) is \(fields[column])")
                }
                values.append(Float(value))
            }
            rows += 1
        }
        guard let columns, rows > 0 else { throw MFAError.malformedFile(path: path, reason: "no numeric rows") }
        return try Matrix(rows: rows, columns: columns, values: values)
    }
}
