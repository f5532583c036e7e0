import ArgumentParser
import Foundation
import MFA

@main
struct MFATool: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mfa",
        abstract: "Train and use mixtures of factor analysers (precision-form SGD, DESIGN.md).",
        version: version,
        subcommands: [Train.self, Select.self, Bench.self, Score.self, Predict.self, Sample.self, Reconstruct.self, Outliers.self, Info.self, Devices.self,
                      DGMMCommand.self, Simulate.self, ARI.self]
    )

    /// Like ArgumentParser's `main`, except after parsing: a failure while running is one
    /// `Error: …` line and status 1, without the usage text meant for mistyped options.
    static func main() {
        _ = processStart  // the clock `--history` counts from
        HeapSettings.keepLargeBlocksOnHeap()
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let unknown = unknownHelpTopic(arguments) {
            printError("Error: 'mfa help \(unknown)': there is no such command; 'mfa help' lists them")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            // Every rank of an MPI launch parses the same line: one of them says what is wrong.
            if Launch.launcherRank ?? 0 != 0 { Foundation.exit(exitCode(for: error).rawValue) }
            exit(withError: error)
        }
        do {
            // Under an MPI launcher every rank gets here: the training commands (and `devices`)
            // run on every rank; any other command on rank 0 alone.
            try Launch.begin((command as? RunsOnEveryRank)?.distributedMode ?? .auto)
            if !Launch.leads, !(command is RunsOnEveryRank) { Launch.end(status: 0) }
            try command.run()
        } catch let error where error is MFAError || error is ValidationError {
            let text = String(describing: error)
            sayFromThisRank("Error: " + text.split(whereSeparator: \.isNewline).joined(separator: " "), error: true)
            Launch.end(status: exitStatus(for: error))
        } catch {
            // `help` and --help requests, exit codes (a stop on a signal).
            let status = exitCode(for: error).rawValue
            let message = fullMessage(for: error)
            if status == 0 {
                say(message)  // --help, --version: once
            } else if !message.isEmpty {
                sayFromThisRank(message, error: true)
            }
            // Every rank stops on a signal together (the loop agrees on it): no abort needed.
            Launch.end(status: status, everyRank: status == Interruption.exitStatus)
        }
        Launch.end(status: 0)
    }

    /// The status a failure while running exits with.
    static func exitStatus(for error: Error) -> Int32 { ExitCode.failure.rawValue }

    /// `mfa help a b`: the first of a, b that names no (sub)command, or nil. ArgumentParser shows
    /// the top-level help for an unknown topic and exits 0, so a typo would pass for success.
    static func unknownHelpTopic(_ arguments: [String]) -> String? {
        guard arguments.first == "help" else { return nil }
        var current: ParsableCommand.Type = MFATool.self
        for name in arguments.dropFirst() where !name.hasPrefix("-") {
            guard let next = current.configuration.subcommands.first(where: { $0._commandName == name }) else { return name }
            current = next
        }
        return nil
    }
}
