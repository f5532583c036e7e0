import ArgumentParser

@main
struct MFATool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mfa",
        abstract: "Train and use mixtures of factor analysers (precision-form SGD, DESIGN.md).",
        subcommands: [Train.self, Select.self, Score.self, Predict.self, Sample.self, Reconstruct.self, Outliers.self, Info.self, Devices.self,
                      DGMMCommand.self, Simulate.self, ARI.self]
    )
}
