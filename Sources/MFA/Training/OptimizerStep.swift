/// The optimizer rules on host memory, for float32 (the CPU backend's θ) and float64 (the DGMM's
/// layers) alike: one implementation of Adam and of heavy-ball momentum.
public enum OptimizerStep {
    /// Adam with bias correction, given 1/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ):
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
    @inlinable
    public static func adam<T: BinaryFloatingPoint>(
        _ theta: UnsafeMutablePointer<T>, gradient: UnsafePointer<T>, first: UnsafeMutablePointer<T>,
        second: UnsafeMutablePointer<T>, count: Int, rate: T, beta1: T, beta2: T, epsilon: T,
        inverseCorrection1: T, inverseCorrection2: T
    ) {
        for p in 0..<count {
            let g = gradient[p]
            let m = beta1 * first[p] + (1 - beta1) * g
            let v = beta2 * second[p] + (1 - beta2) * g * g
            first[p] = m
            second[p] = v
            theta[p] -= rate * (m * inverseCorrection1) / ((v * inverseCorrection2).squareRoot() + epsilon)
        }
    }

    /// Heavy-ball momentum: v ← μ·v + g, θ ← θ − η·v.
    @inlinable
    public static func momentum<T: BinaryFloatingPoint>(
        _ theta: UnsafeMutablePointer<T>, gradient: UnsafePointer<T>, velocity: UnsafeMutablePointer<T>, count: Int,
        rate: T, momentum: T
    ) {
        for p in 0..<count {
            velocity[p] = momentum * velocity[p] + gradient[p]
            theta[p] -= rate * velocity[p]
        }
    }
}
