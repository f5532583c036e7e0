import Foundation
import MFA
import MFACPU
import Testing

/// A source that pages in blocks, as a memory-mapped file does, and records what training reads
/// and hands back.
final class RecordingPagedSource: SampleSource, @unchecked Sendable {
    let data: Matrix
    let blockRows: Int?
    /// Blocks read since the last release, one set per interval between releases.
    private(set) var intervals: [Set<Int>] = [[]]
    private(set) var releases = 0

    init(_ data: Matrix, blockRows: Int) {
        self.data = data
        self.blockRows = blockRows
    }

    var rows: Int { data.rows }
    var columns: Int { data.columns }

    func copyRow(_ index: Int, into target: UnsafeMutablePointer<Float>) throws {
        intervals[intervals.count - 1].insert(index / blockRows!)
        try data.copyRow(index, into: target)
    }

    func release(_ range: Range<Int>) {
        releases += 1
        intervals.append([])
    }

    /// Intervals between releases that read more than one block (the one being used and the next).
    var scatteredIntervals: Int { intervals.filter { $0.count > 2 }.count }
}

@Suite struct PagingTests {
    let data = Fixtures.data(rows: 600, columns: 5, seed: 21)

    @Test("SGD, EM and the DGMM all stream paged data a block at a time, every block handed back each epoch",
          arguments: ["sgd", "em", "dgmm"])
    func everyTrainerStreams(algorithm: String) throws {
        let source = RecordingPagedSource(data, blockRows: 50)
        var options = TrainingOptions()
        options.epochs = 3
        options.maxIterations = 3
        options.tolerance = 0
        options.batchSize = 32
        switch algorithm {
        case "sgd": _ = try SGDTrainer(backend: CPUBackend(), options: options).train(source, components: 2, latent: 1)
        case "em": _ = try EMTrainer(backend: CPUBackend(), options: options).train(source, components: 2, latent: 1)
        default: _ = try DGMMTrainer(backend: CPUBackend(), options: options)
            .train(source, shape: try DGMMShape(dimension: 5, components: [2, 2], latent: [2, 1]))
        }
        // 12 blocks, 3 epochs: each block released at least once an epoch.
        #expect(source.releases >= 3 * 12, "\(algorithm): \(source.releases) releases")
        // Only the set-up (the data's fingerprint and the initialisation's samples) reads across blocks.
        #expect(source.scatteredIntervals <= 1, "\(algorithm): \(source.scatteredIntervals) intervals read from more than two blocks")
    }
}
