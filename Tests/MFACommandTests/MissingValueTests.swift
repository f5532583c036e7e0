import Foundation
import MFA
import MFAIO
import Testing

/// CSV as people write it, and missing values: errors everywhere except in `reconstruct`, where
/// they are what gets filled in.
@Suite(.serialized) struct MissingValueTests {
    func errorLines(_ outcome: Tool.Outcome) -> [Substring] {
        outcome.stderr.split(separator: "\n").filter { !$0.hasPrefix("backend:") }
    }

    @Test("train reports a CSV header, drops a pandas index with --skip-columns, and names the place of an NA")
    func csvForTraining() throws {
        let workspace = Workspace()
        var random = RandomGenerator(seed: 5)
        let rows = (0..<200).map { n in "\(n)," + (0..<3).map { _ in String(format: "%.3f", random.normal()) }.joined(separator: ",") }
        try (",a,b,c\n" + rows.joined(separator: "\n") + "\n").write(toFile: workspace["d.csv"], atomically: true, encoding: .utf8)
        let trained = try Tool.run(["train", workspace["d.csv"], "-c", "1", "-l", "1", "--epochs", "1", "--skip-columns", "1", "-o", workspace["m.safetensors"]])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.contains("line 1 read as column names (a, b, c)"))
        #expect(trained.stdout.contains("d=3"))
        let holes = ",a,b,c\n" + rows[0..<5].joined(separator: "\n") + "\n5,1.0,NA,2.0\n"
        try holes.write(toFile: workspace["na.csv"], atomically: true, encoding: .utf8)
        let refused = try Tool.run(["train", workspace["na.csv"], "-c", "1", "-l", "1", "--skip-columns", "1", "-o", workspace["n.safetensors"]])
        #expect(refused.status == 1)
        #expect(errorLines(refused).last == "Error: \(workspace["na.csv"]): line 7, column 3 is NA (a missing value; only `mfa reconstruct` fills those in)")
    }

    @Test("reconstruct fills the data's own NaN and NA values without --mask, and takes a boolean mask")
    func reconstructMissingValues() throws {
        let workspace = Workspace()
        var random = RandomGenerator(seed: 6)
        let values = (0..<(300 * 4)).map { _ in random.normal() }
        try Numpy.write(values, shape: [300, 4], dtype: "<f4", to: workspace["d.npy"])
        #expect(try Tool.run(["train", workspace["d.npy"], "-c", "1", "-l", "1", "--epochs", "1", "-o", workspace["m.safetensors"]]).status == 0)
        // NaN in a .npy file, no mask.
        var holed = Array(values[0..<40])
        holed[1] = .nan
        holed[6] = .nan
        try Numpy.write(holed, shape: [10, 4], dtype: "<f4", to: workspace["holes.npy"])
        let fromNaN = try Tool.run(["reconstruct", workspace["m.safetensors"], workspace["holes.npy"], "-o", workspace["r1.npy"]])
        #expect(fromNaN.status == 0, "\(fromNaN.stderr)")
        #expect(fromNaN.stdout.contains("2 values filled in"))
        let filled = try Numpy.read(path: workspace["r1.npy"])
        #expect(filled.values.allSatisfy(\.isFinite) && filled.values[0] == Float(values[0]))
        // NA and empty fields in CSV, no mask.
        let csv = "1,NA,0.5,0.2\n0.1,0.2,,0.4\n"
        try csv.write(toFile: workspace["holes.csv"], atomically: true, encoding: .utf8)
        let fromNA = try Tool.run(["reconstruct", workspace["m.safetensors"], workspace["holes.csv"], "-o", workspace["r2.npy"]])
        #expect(fromNA.status == 0 && fromNA.stdout.contains("2 values filled in"), "\(fromNA.stderr)")
        // A boolean mask as numpy saves np.isnan(X): dtype |b1.
        let header = "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }"
        let padded = header + String(repeating: " ", count: (64 - (10 + header.count + 1) % 64) % 64) + "\n"
        let mask = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.count), 0] + Array(padded.utf8) + [0, 0, 1, 1]
        FileManager.default.createFile(atPath: workspace["mask.npy"], contents: Data(mask))
        let withMask = try Tool.run(["reconstruct", workspace["m.safetensors"], workspace["d.npy"], "--mask", workspace["mask.npy"],
                                     "-o", workspace["r3.npy"]])
        #expect(withMask.status == 0 && withMask.stdout.contains("600 values filled in"), "\(withMask.stderr)")
        // Nothing marked at all: one line asking for a mask.
        let nothing = try Tool.run(["reconstruct", workspace["m.safetensors"], workspace["d.npy"], "-o", workspace["r4.npy"]])
        #expect(nothing.status == 1 && errorLines(nothing).count == 1 && nothing.stderr.contains("give --mask"), "\(nothing.stderr)")
    }
}
