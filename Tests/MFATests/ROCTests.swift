import MFA
import Testing

@Suite struct ROCTests {
    @Test("AUROC counts ties as one half (checked by hand)")
    func tiesCountHalf() throws {
        // Pairs (positive, negative): 3>2, 3>1, 2=2 (½), 2>1, 2=2 (½), 2>1 → 5 of 6.
        let roc = try ROC(positives: [3, 2, 2], negatives: [2, 1])
        #expect(abs(roc.area - 5.0 / 6.0) < 1e-12)
        #expect(roc.points.map(\.truePositiveRate) == [0, 1.0 / 3, 1, 1])
        #expect(roc.points.map(\.falsePositiveRate) == [0, 0, 0.5, 1])
    }

    @Test("Perfect, reversed and all-tied scores give 1, 0 and ½")
    func extremes() throws {
        #expect(try ROC(positives: [5, 6], negatives: [1, 2, 3]).area == 1)
        #expect(try ROC(positives: [1], negatives: [2, 3]).area == 0)
        #expect(try ROC(positives: [1, 1], negatives: [1]).area == 0.5)
        #expect(throws: MFAError.self) { try ROC(positives: [], negatives: [1]) }
    }
}
