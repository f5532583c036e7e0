import MFAIO

/// Refuses, before training starts, a mixture whose parameters and workspaces could never fit in
/// memory. An estimate, in float32: θ = K(d(l+1)+1) with its gradient, two optimiser moments, the
/// components in the precision form, a roll-back copy and EM's statistics (8 copies in all), plus
/// a batch's responsibilities and latents (B·K·(l+2)) and its rows (B·d), where a batch holds at
/// most the data's `rows`.
func requireTrainingMemory(components k: Int, dimension d: Int, latent l: Int, batchSize: Int, rows: Int, what: String) throws {
    let b = min(batchSize, rows)
    let parameters = MemoryLimit.sum([MemoryLimit.product([k, d, l + 1]), k])
    let floats = MemoryLimit.sum([MemoryLimit.product([8, parameters]), MemoryLimit.product([b, k, l + 2]), MemoryLimit.product([b, d])])
    try MemoryLimit.require(bytes: MemoryLimit.product([floats, 4]), for: what)
}
