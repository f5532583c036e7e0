import Foundation

/// One path's composition through the layers (DESIGN.md §3), 0-based layers i = 0…L−1 with
/// input dimension n_i and latent dimension r_i = n_{i+1}:
///
///     m_L = 0, S_L = I;   m_i = η_i + Λ_i m_{i+1};   S_i = Λ_i S_{i+1} Λ_iᵀ + Ψ_i  (i ≥ 1)
///
/// μ_path = m_0 and Σ_path = Λ_0 S_1 Λ_0ᵀ + Ψ_0. `backward` chains gradients with respect to
/// (m_0, S_1, Λ_0) back to every layer's parameters on this path.
struct PathTerms {
    let shape: DGMMShape
    let layers: [DGMMLayerParameters]
    /// The component chosen at each layer.
    let choices: [Int]
    /// m_i, i = 0…L.
    private(set) var means: [[Double]]
    /// S_i (row-major n_i × n_i), i = 1…L; inner[0] is empty (S_0 = Σ is never formed).
    private(set) var inner: [[Double]]

    init(_ layers: [DGMMLayerParameters], shape: DGMMShape, path: Int) {
        self.shape = shape
        self.layers = layers
        choices = shape.choices(path: path)
        let count = shape.layers
        let deepest = shape.latent[count - 1]
        means = [[Double]](repeating: [], count: count + 1)
        inner = [[Double]](repeating: [], count: count + 1)
        means[count] = [Double](repeating: 0, count: deepest)
        inner[count] = SmallLinearAlgebra.identity(deepest)
        for i in stride(from: count - 1, through: 0, by: -1) {
            let (n, r) = (shape.inputDimension(layer: i), shape.latent[i])
            let lambda = loadings(i)
            means[i] = zip(mean(i), SmallLinearAlgebra.product(lambda, means[i + 1], n, r, 1)).map { $0 + $1 }
            guard i >= 1 else { break }
            let psi = logNoise(i)
            let spread = SmallLinearAlgebra.product(lambda, inner[i + 1], n, r, r)
            var s = SmallLinearAlgebra.product(spread, SmallLinearAlgebra.transpose(lambda, n, r), n, r, n)
            for j in 0..<n { s[j * n + j] += Foundation.exp(psi[j]) }
            inner[i] = s
        }
    }

    func mean(_ i: Int) -> [Double] {
        let n = shape.inputDimension(layer: i)
        return Array(layers[i].means[(choices[i] * n)..<((choices[i] + 1) * n)])
    }

    /// Λ_i of this path, row-major n_i × r_i.
    func loadings(_ i: Int) -> [Double] {
        let size = shape.inputDimension(layer: i) * shape.latent[i]
        return Array(layers[i].loadings[(choices[i] * size)..<((choices[i] + 1) * size)])
    }

    /// log ψ_i of this path.
    func logNoise(_ i: Int) -> [Double] {
        let n = shape.inputDimension(layer: i)
        return Array(layers[i].logNoise[(choices[i] * n)..<((choices[i] + 1) * n)])
    }

    /// Adds to `gradient` this path's share, given ∂F/∂m_0 (d), ∂F/∂log ψ_0 (d), the part of
    /// ∂F/∂Λ_0 that comes through Σ (d × r_0), and ∂F/∂S_1 (r_0 × r_0, symmetric).
    func backward(meanGradient: [Double], logNoiseGradient: [Double], loadingGradient: [Double],
                  innerGradient: [Double], into gradient: inout [DGMMLayerParameters]) {
        var gm = meanGradient, gs = [Double]()
        for i in 0..<shape.layers {
            let (n, r, g) = (shape.inputDimension(layer: i), shape.latent[i], choices[i])
            let lambda = loadings(i)
            // m_i = η_i + Λ_i m_{i+1}
            var gl = SmallLinearAlgebra.product(gm, means[i + 1], n, 1, r)
            if i == 0 {
                for p in gl.indices { gl[p] += loadingGradient[p] }
                for j in 0..<n { gradient[0].logNoise[g * n + j] += logNoiseGradient[j] }
            } else {
                // S_i = Λ_i S_{i+1} Λ_iᵀ + Ψ_i
                let twice = SmallLinearAlgebra.product(SmallLinearAlgebra.product(gs, lambda, n, n, r), inner[i + 1], n, r, r)
                for p in gl.indices { gl[p] += 2 * twice[p] }
                let psi = logNoise(i)
                for j in 0..<n { gradient[i].logNoise[g * n + j] += gs[j * n + j] * Foundation.exp(psi[j]) }
            }
            for j in 0..<n { gradient[i].means[g * n + j] += gm[j] }
            for p in 0..<(n * r) { gradient[i].loadings[g * n * r + p] += gl[p] }
            let lambdaT = SmallLinearAlgebra.transpose(lambda, n, r)
            gs = i == 0 ? innerGradient : SmallLinearAlgebra.product(SmallLinearAlgebra.product(lambdaT, gs, r, n, n), lambda, r, n, r)
            gm = SmallLinearAlgebra.product(lambdaT, gm, r, n, 1)
        }
    }
}
