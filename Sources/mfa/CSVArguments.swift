import ArgumentParser
import MFAIO

/// How the commands that read data read CSV files.
struct CSVArguments: ParsableArguments {
    @Option(help: "CSV data: drop this many leading columns of every line (a pandas index, R's row names).")
    var skipColumns = 0

    func validate() throws {
        if skipColumns < 0 { throw ValidationError("--skip-columns must be at least 0") }
    }

    /// The reader's options; a guessed header is said on stderr.
    func options(missingAllowed: Bool = false) -> CSV.Options {
        CSV.Options(skipColumns: skipColumns, missingAllowed: missingAllowed, note: { printError("note: " + $0) })
    }
}
