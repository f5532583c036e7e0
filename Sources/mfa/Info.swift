import ArgumentParser
import MFA
import MFAIO

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model file.")

    @Argument(help: "Model file (.safetensors).")
    var model: String

    func run() throws {
        try FilePlan(inputs: ["MODEL": model], outputs: [:]).check()
        let contents = try ModelFile.read(model)
        if let dgmm = contents.dgmm {
            say("kind: dgmm")
            say("dimension d: \(dgmm.shape.dimension)")
            say("components per layer: \(dgmm.shape.components.map(String.init).joined(separator: ","))")
            say("latent dimension per layer: \(dgmm.shape.latent.map(String.init).joined(separator: ","))")
            say("paths: \(dgmm.shape.pathCount)")
            say("free parameters: \(dgmm.shape.freeParameterCount)")
        } else {
            let shape = contents.model.shape
            say("kind: \(contents.metadata["kind"] ?? "mfa")")
            say("components K: \(shape.components)")
            say("dimension d: \(shape.dimension)")
            say("latent l: \(shape.latent)")
            say("free parameters: \(shape.freeParameterCount)")
        }
        for key in contents.metadata.keys.sorted() where !["kind", "components", "dimension", "latent"].contains(key) {
            say("\(key): \(contents.metadata[key]!)")
        }
    }
}
