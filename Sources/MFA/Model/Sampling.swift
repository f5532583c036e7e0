extension MixtureModel {
    /// `count` samples x = μ_k + Λ_k z + ψ_k^{1/2} ε (k ~ π, z and ε standard normal), and the
    /// component each came from.
    public func sample(count: Int, random: inout RandomGenerator) -> (samples: Matrix, components: [Int]) {
        let (d, l) = (shape.dimension, shape.latent)
        let weights = self.weights.map(Double.init)
        var values = [Float](repeating: 0, count: count * d)
        var labels = [Int]()
        labels.reserveCapacity(count)
        var z = [Double](repeating: 0, count: l)
        for n in 0..<count {
            let c = random.index(weightedBy: weights)
            labels.append(c)
            for i in 0..<l { z[i] = random.normal() }
            for j in 0..<d {
                var x = Double(means[c * d + j]) + Double(noiseVariances[c * d + j]).squareRoot() * random.normal()
                for i in 0..<l { x += Double(loadings[(c * d + j) * l + i]) * z[i] }
                values[n * d + j] = Float(x)
            }
        }
        return (Matrix(unchecked: count, d, values), labels)
    }
}
