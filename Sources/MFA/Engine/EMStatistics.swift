/// The sufficient statistics of one EM pass, accumulated over mini-batches in float64, in the
/// engine's coordinates (x centred on its origin; z = Γ_kᵀ(x − μ_k) in its canonical basis):
///
///     weights        N_k = Σ r              [K]
///     totals         t_k = Σ r z            [K, l]
///     firsts         s1_k = Σ r x           [K, d]
///     squares        s2_k = Σ r x∘x         [K, d]
///     cross          C_k = Σ r z xᵀ         [K, l, d]
///     secondMoments  G_k = Σ r z zᵀ         [K, l, l]
///
/// Nothing here is d×d: the M-step needs only these GEMM-shaped sums (DESIGN.md §2).
struct EMStatistics {
    let shape: MixtureShape
    var count = 0
    var cross: [Double]       // the crossSums layout [K(l+1), d]: C_k rows, then s1_k rows
    var squares: [Double]
    var totals: [Double]      // the columnTotals layout [K(l+1)]: t_k, then N_k
    var secondMoments: [Double]

    init(shape: MixtureShape) {
        self.shape = shape
        let (k, d, l) = (shape.components, shape.dimension, shape.latent)
        cross = [Double](repeating: 0, count: k * (l + 1) * d)
        squares = [Double](repeating: 0, count: k * d)
        totals = [Double](repeating: 0, count: k * (l + 1))
        secondMoments = [Double](repeating: 0, count: k * l * l)
    }

    /// Adds one pass's sums (SGD's gradient sums have no second moments).
    mutating func add(crossSums: [Double], squareSums: [Double], columnTotals: [Double], secondMoments moments: [Double]?) throws {
        for p in cross.indices { cross[p] += crossSums[p] }
        for p in squares.indices { squares[p] += squareSums[p] }
        for p in totals.indices { totals[p] += columnTotals[p] }
        if let moments { for p in secondMoments.indices { secondMoments[p] += moments[p] } }
    }
}

extension EMStatistics {
    /// Every sum added up across processes (`Reducer`), in one exchange; the row count too (a
    /// process may have computed no chunk of a small batch).
    mutating func sum(with reducer: any Reducer) throws {
        var values = cross + squares + totals + secondMoments + [Double(count)]
        try reducer.sum(&values)
        count = Int(values.removeLast())
        var offset = 0
        for keyPath in [\EMStatistics.cross, \.squares, \.totals, \.secondMoments] as [WritableKeyPath<EMStatistics, [Double]>] {
            let count = self[keyPath: keyPath].count
            self[keyPath: keyPath] = Array(values[offset..<(offset + count)])
            offset += count
        }
    }
}

extension EMStatistics {
    /// The sums as a strategy's state (float64, exact), under `prefix`.
    func save(into state: inout StrategyState, prefix: String) {
        state.doubles["\(prefix).cross"] = cross
        state.doubles["\(prefix).squares"] = squares
        state.doubles["\(prefix).totals"] = totals
        state.doubles["\(prefix).second_moments"] = secondMoments
        state.integers["\(prefix).rows"] = count
    }

    /// Sums saved by `save(into:prefix:)`; the shape must be this one's.
    mutating func restore(from state: StrategyState, prefix: String) throws {
        let saved = (try state.doubles("\(prefix).cross"), try state.doubles("\(prefix).squares"),
                     try state.doubles("\(prefix).totals"), try state.doubles("\(prefix).second_moments"))
        guard saved.0.count == cross.count, saved.1.count == squares.count, saved.2.count == totals.count,
              saved.3.count == secondMoments.count else {
            throw MFAError.shapeMismatch("the saved EM sums do not fit a model of \(shape)")
        }
        (cross, squares, totals, secondMoments) = saved
        count = state.integers["\(prefix).rows"] ?? 0
    }
}
