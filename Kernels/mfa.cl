// The named kernels of the Backend protocol (Sources/MFA/Backend.swift states each contract),
// for the OpenCL backend. Every buffer is float32 and row-major; the layouts of θ and of the
// component buffer are Sources/MFA/Layouts.swift's, passed in as offsets. The CPU backend's loops
// are the reference each kernel is tested against.
//
// Host-set defines: MAX_LATENT (the largest l a work-item keeps in registers); USE_FP64 where the
// device has cl_khr_fp64 and float32 was not asked for (the host sizes real_t buffers by it).

#ifdef USE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real_t;   // per-component constants in float64 where the device has it (DESIGN.md §2)
#define REAL(x) x
#define JACOBI_TOLERANCE 1e-10   // SymmetricJacobi.tolerance
#define JACOBI_HUGE 1e150   // beyond it θ² would overflow
#else
typedef float real_t;    // no cl_khr_fp64, or --opencl-fp32: float32 with compensated sums, and no
#define REAL(x) x##f     // double literal anywhere (REAL), so no float64 instruction is emitted
#define JACOBI_TOLERANCE 1e-6f
#define JACOBI_HUGE 1e18f
#endif

// sum += x in real_t; in float32 with Kahan's compensation carried in `lost` (so that sums over d
// and over rows keep about float64's accuracy on devices without it). `lost` is unused in float64.
#ifdef USE_FP64
#define ACCUMULATE(sum, lost, x) ((sum) += (x))
#else
#define ACCUMULATE(sum, lost, x) do {                    \
        const float term_ = (x) - (lost);                 \
        const float next_ = (sum) + term_;                \
        (lost) = (next_ - (sum)) - term_;                 \
        (sum) = next_;                                    \
    } while (0)
#endif

#ifndef MAX_LATENT
#define MAX_LATENT 64
#endif

// expanded[n] = [x_n ∘ x_n | x_n]            global: (d, rows)
__kernel void expand_batch(__global const float* x, const int d, __global float* expanded) {
    const int j = get_global_id(0), n = get_global_id(1);
    const float v = x[n * d + j];
    expanded[n * 2 * d + j] = v * v;
    expanded[n * 2 * d + d + j] = v;
}

// Tree reduction of `scratch` (local size a power of two); every work-item gets the result.
#define REDUCE(scratch, lid, size, OP)                                                  \
    for (int s = (size) / 2; s > 0; s >>= 1) {                                           \
        barrier(CLK_LOCAL_MEM_FENCE);                                                    \
        if ((lid) < s) scratch[lid] = OP(scratch[lid], scratch[(lid) + s]);              \
    }                                                                                    \
    barrier(CLK_LOCAL_MEM_FENCE);

#define ADD(a, b) ((a) + (b))

// One work-group per row n: z ← z − Γᵀμ in place, ℓ = offset − ½q + ½‖z‖², log-sum-exp, softmax.
__kernel void log_likelihoods(__global const float* quadratic, __global float* latents,
                              __global const float* components, const int K, const int l,
                              const int offsetsAt, const int shiftAt,
                              __global float* logDensity, __global float* responsibilities,
                              __local float* scratch) {
    const int n = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    __global const float* q = quadratic + (size_t)n * K;
    __global float* z = latents + (size_t)n * K * l;
    __global float* r = responsibilities + (size_t)n * K;
    float top = -INFINITY;
    for (int c = lid; c < K; c += size) {
        float norm = 0.0f;
        for (int i = 0; i < l; i++) {
            const float centred = z[c * l + i] - components[shiftAt + c * l + i];
            z[c * l + i] = centred;
            norm += centred * centred;
        }
        const float value = components[offsetsAt + c] - 0.5f * q[c] + 0.5f * norm;
        r[c] = value;
        top = fmax(top, value);
    }
    scratch[lid] = top;
    REDUCE(scratch, lid, size, fmax)
    top = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    float total = 0.0f;
    for (int c = lid; c < K; c += size) total += exp(r[c] - top);
    scratch[lid] = total;
    REDUCE(scratch, lid, size, ADD)
    const float logSum = top + log(scratch[0]);
    if (lid == 0) logDensity[n] = logSum;
    for (int c = lid; c < K; c += size) r[c] = exp(r[c] - logSum);
}

// weighted[n] = [s·r[n,k]·z[n,k,:] for all k | s·r[n,k] for all k]     global: (l+1, K, rows)
// (Indices come from the NDRange, not from divisions: Oclgrind 21.10 cannot check the `freeze`
// that LLVM emits for an integer division by a run-time value.)
__kernel void weight_latents(__global const float* responsibilities, __global const float* latents,
                             const int K, const int l, const float scale, __global float* weighted) {
    const int i = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    const size_t row = (size_t)n * K * (l + 1);
    const float w = scale * responsibilities[(size_t)n * K + c];
    if (i < l) weighted[row + c * l + i] = w * latents[(size_t)n * K * l + c * l + i];
    else weighted[row + K * l + c] = w;
}

// totals[c] = Σ_n matrix[n, c]: a work-group per tile of TILE columns, TILE row lanes each summing
// every TILE-th row (reads coalesced along the columns), the lanes added by a tree in local memory.
//                                               global: (columns rounded up to TILE, TILE), local: (TILE, TILE)
#define TILE 16
__kernel void column_sums(__global const float* matrix, const int rows, const int columns, __global float* totals) {
    __local float partial[TILE][TILE];
    const int column = get_global_id(0), lane = get_local_id(1), slot = get_local_id(0);
    float total = 0.0f;
    if (column < columns) {
        for (int n = lane; n < rows; n += TILE) total += matrix[(size_t)n * columns + column];
    }
    partial[lane][slot] = total;
    for (int s = TILE / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lane < s) partial[lane][slot] += partial[lane + s][slot];
    }
    if (lane == 0 && column < columns) totals[column] = partial[0][slot];
}

// moments[k, a, :] = Σ_n r[n,k] z[n,k,a] z[n,k,:]: a work-group per (a, k), its items each summing
// every size-th row into a private row, the rows added by a tree in local memory.
//                                               global: (size, l, K), local: (size, 1, 1)
__kernel void latent_second_moments(__global const float* responsibilities, __global const float* latents,
                                    const int K, const int l, const int rows, __global float* moments,
                                    __local float* scratch) {
    const int lid = get_local_id(0), size = get_local_size(0), a = get_global_id(1), c = get_global_id(2);
    float row[MAX_LATENT];
    for (int b = 0; b < l; b++) row[b] = 0.0f;
    for (int n = lid; n < rows; n += size) {
        __global const float* z = latents + ((size_t)n * K + c) * l;
        const float weight = responsibilities[(size_t)n * K + c] * z[a];
        for (int b = 0; b < l; b++) row[b] += weight * z[b];
    }
    for (int b = 0; b < l; b++) scratch[lid * l + b] = row[b];
    for (int s = size / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) for (int b = 0; b < l; b++) scratch[lid * l + b] += scratch[(lid + s) * l + b];
    }
    if (lid == 0) for (int b = 0; b < l; b++) moments[((size_t)c * l + a) * l + b] = scratch[b];
}

// The gradient of −mean log p for component c, coordinate j (DESIGN.md §2).    global: (d, K)
// The gradient shares θ's layout; θ's offsets (*At) and the component buffer's come from Layouts.swift.
__kernel void assemble_gradient(__global const float* theta, __global const float* components,
                                __global const float* crossSums, __global const float* squareSums,
                                __global const float* totals, const int K, const int d, const int l,
                                const int meansAt, const int logPrecisionAt, const int loadingsAt, const int logitsAt, const int quadraticAt,
                                const int leverageAt, const int eigenvaluesAt, const int weightsAt,
                                __global float* gradient) {
    const int j = get_global_id(0), c = get_global_id(1);
    const int kl = K * l;
    const int index = c * d + j;
    const float w = totals[kl + c];
    const float mu = theta[meansAt + index];
    const float e = components[quadraticAt + c * 2 * d + j];   // e_k, from the quadratic rows
    const float s1 = crossSums[(size_t)(kl + c) * d + j], s2 = squareSums[index];
    const float squaredDeviation = s2 - 2.0f * mu * s1 + w * mu * mu;
    gradient[logPrecisionAt + index] = -0.5f * (w + w * components[leverageAt + index] / e - e * squaredDeviation);
    float gradientMu = -e * (s1 - w * mu);
    for (int i = 0; i < l; i++) {
        const size_t row = (size_t)(c * l + i) * d + j;
        const float t = totals[c * l + i];
        gradientMu += theta[loadingsAt + row] * t;
        const float weightOverLambda = w / components[eigenvaluesAt + c * l + i];
        gradient[loadingsAt + row] = -(crossSums[row] - mu * t - weightOverLambda * theta[loadingsAt + row] / e);
    }
    gradient[meansAt + index] = gradientMu;
    if (j == 0) gradient[logitsAt + c] = -(w - components[weightsAt + c]);
}

// Adam with bias correction on θ[offset ..< offset + count].     global: (count)
__kernel void adam_update(__global float* theta, __global const float* gradient, __global float* first,
                          __global float* second, const int offset, const float rate, const float beta1,
                          const float beta2, const float epsilon, const float inverseCorrection1,
                          const float inverseCorrection2) {
    const int p = offset + get_global_id(0);
    const float g = gradient[p];
    const float m = beta1 * first[p] + (1.0f - beta1) * g;
    const float v = beta2 * second[p] + (1.0f - beta2) * g * g;
    first[p] = m;
    second[p] = v;
    theta[p] -= rate * (m * inverseCorrection1) / (sqrt(v * inverseCorrection2) + epsilon);
}

// Heavy-ball momentum on θ[offset ..< offset + count].           global: (count)
__kernel void momentum_update(__global float* theta, __global const float* gradient, __global float* velocity,
                              const int offset, const float rate, const float momentum) {
    const int p = offset + get_global_id(0);
    velocity[p] = momentum * velocity[p] + gradient[p];
    theta[p] -= rate * velocity[p];
}

// Isotropic noise: a_kj ← mean_j a_kj.                          global: (K)
__kernel void tie_isotropic(__global float* theta, const int K, const int d, const int logPrecisionAt) {
    const int c = get_global_id(0);
    __global float* a = theta + logPrecisionAt + (size_t)c * d;
    real_t total = 0, lost = 0;
    for (int j = 0; j < d; j++) ACCUMULATE(total, lost, a[j]);
    const float mean = (float)(total / d);
    for (int j = 0; j < d; j++) a[j] = mean;
}

// Shared noise: a_kj ← mean_k a_kj.                               global: (d)
__kernel void tie_shared(__global float* theta, const int K, const int d, const int logPrecisionAt) {
    const int j = get_global_id(0);
    __global float* a = theta + logPrecisionAt + j;
    real_t total = 0, lost = 0;
    for (int c = 0; c < K; c++) ACCUMULATE(total, lost, a[(size_t)c * d]);
    const float mean = (float)(total / K);
    for (int c = 0; c < K; c++) a[(size_t)c * d] = mean;
}

// a ← clamp(a, low, high)                                       global: (K·d)
__kernel void clip_log_precision(__global float* theta, const int logPrecisionAt, const float low, const float high) {
    const int p = get_global_id(0);
    theta[logPrecisionAt + p] = clamp(theta[logPrecisionAt + p], low, high);
}

// Row a of M_k: M_k[a,b] = δ_ab − Σ_j Γ_k[j,a] Γ_k[j,b] / e_kj, accumulated in real_t: a work-group
// per (a, k), its items each summing every size-th j (reads along j, coalesced), the rows added by a
// tree in local memory.                          global: (size, l, K), local: (size, 1, 1)
__kernel void inner_matrices(__global const float* theta, const int K, const int d, const int l,
                             const int logPrecisionAt, const int loadingsAt, __global real_t* inner,
                             __local real_t* scratch) {
    const int lid = get_local_id(0), size = get_local_size(0), a = get_global_id(1), c = get_global_id(2);
    __global const float* gamma = theta + loadingsAt + (size_t)c * l * d;
    __global const float* logE = theta + logPrecisionAt + (size_t)c * d;
    // Entries b ≥ a only (M_k is symmetric): the group writes them and their mirrors.
    real_t row[MAX_LATENT], lost[MAX_LATENT];
    for (int b = a; b < l; b++) row[b] = lost[b] = 0;
    for (int j = lid; j < d; j += size) {
        const real_t weighted = (real_t)gamma[(size_t)a * d + j] * (real_t)exp(-logE[j]);
        for (int b = a; b < l; b++) ACCUMULATE(row[b], lost[b], weighted * (real_t)gamma[(size_t)b * d + j]);
    }
    for (int b = a; b < l; b++) scratch[lid * l + b] = row[b];
    for (int s = size / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) for (int b = a; b < l; b++) scratch[lid * l + b] += scratch[(lid + s) * l + b];
    }
    // (The identity added apart from the sums, as −(Σ − 1) on the diagonal.)
    if (lid == 0) {
        for (int b = a; b < l; b++) {
            inner[(size_t)c * l * l + a * l + b] = -scratch[b];
            inner[(size_t)c * l * l + b * l + a] = -scratch[b];
        }
        inner[(size_t)c * l * l + a * l + a] += 1;
    }
}

// (x, y) ← (c·x − s·y, s·x + c·y): one plane rotation of a pair of entries.
inline void rotate_pair(__global real_t* x, __global real_t* y, const real_t cs, const real_t sn) {
    const real_t first = *x, second = *y;
    *x = cs * first - sn * second;
    *y = sn * first + cs * second;
}

// Whether a_pq lies outside SymmetricJacobi.tolerance: |a_pq| > tolerance·√|a_pp a_qq|, squared.
bool jacobi_outside(__global const real_t* a, const int l, const int p, const int q) {
    const real_t apq = a[p * l + q];
    return apq * apq > JACOBI_TOLERANCE * JACOBI_TOLERANCE * fabs(a[p * l + p] * a[q * l + q]);
}

// The l×l part of the projection for component c, as ProjectionPlan and SymmetricJacobi do it on
// the host (Sources/MFA/Engine), step for step: Jacobi in round-robin order on M_k (in place in
// `inner`, the eigenvectors in `vectors`), eigenvalues ascending, each eigenvector's largest entry
// positive, eigenvalues below τ clipped. One work-group per component: a round's disjoint
// rotations are applied to the columns by one work-item per (pair, row), then to the rows, with a
// barrier between; the convergence test, the sort and the signs are l² work for work-item 0.
// Writes R_k = O diag(s) to `rotations`, λ to the components, and adds the clipped count to
// components[clippedAt + c] (NaN: M_k not finite, or with τ = 0 not positive definite; Γ_k is
// then left as it is: R_k = I).                                  global: (K·size), local: (size)
__kernel void project_components(__global real_t* inner, __global real_t* vectors, __global float* rotations,
                                 __global float* squaredRotations, __global float* components, const int K, const int l,
                                 const int eigenvaluesAt, const int clippedAt, const float eigenvalueFloor) {
    const int c = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    __global real_t* a = inner + (size_t)c * l * l;
    __global real_t* v = vectors + (size_t)c * l * l;
    __global float* r = rotations + (size_t)c * l * l;
    __global float* r2 = squaredRotations + (size_t)c * l * l;
    const real_t tau = eigenvalueFloor;
    // The round's rotations (p < 0: none for this pair) and the sweep's verdict (0 go on, 1 stop).
    __local int pairP[MAX_LATENT / 2 + 1], pairQ[MAX_LATENT / 2 + 1], verdict;
    __local real_t pairC[MAX_LATENT / 2 + 1], pairS[MAX_LATENT / 2 + 1];
    const int turning = l + (l & 1) - 1, pairs = (l + 1) / 2;
    for (int i = lid; i < l * l; i += size) v[i] = i == (i / l) * (l + 1) ? 1 : 0;
    for (int sweep = 0; sweep < 32; sweep++) {
        barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
        if (lid == 0) {
            real_t total = 0;
            int rotate = 0;
            for (int p = 0; p < l; p++) {
                total += fabs(a[p * l + p]);
                for (int q = p + 1; q < l; q++) {
                    total += fabs(a[p * l + q]);
                    if (jacobi_outside(a, l, p, q)) rotate = 1;
                }
            }
            verdict = 0;
            if (!isfinite(total)) {   // a non-finite entry anywhere: no eigenvalue is meaningful
                for (int p = 0; p < l; p++) a[p * l + p] = NAN;
                verdict = 1;
            } else if (!rotate) {
                verdict = 1;
            }
        }
        barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
        if (verdict) break;
        for (int round = 0; round < turning; round++) {
            for (int t = lid; t < pairs; t += size) {   // SymmetricJacobi.pair
                const int x = t == 0 ? turning : (round + t) % turning;
                const int y = t == 0 ? round : (round - t + turning) % turning;
                const int p = min(x, y), q = max(x, y);
                pairP[t] = -1;
                if (q < l && jacobi_outside(a, l, p, q)) {
                    const real_t apq = a[p * l + q];
                    const real_t theta = (a[q * l + q] - a[p * l + p]) / (2 * apq);
                    const real_t tangent = fabs(theta) > JACOBI_HUGE ? 1 / (2 * theta)
                        : (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                    const real_t cs = 1 / sqrt(tangent * tangent + 1);
                    pairP[t] = p; pairQ[t] = q; pairC[t] = cs; pairS[t] = tangent * cs;
                }
            }
            barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
            for (int u = lid; u < pairs * l; u += size) {   // columns: A·J and V·J (u − t·l, not u % l: LLVM makes
                                                          // a freeze of the pair, which Oclgrind rejects)
                const int t = u / l, k = u - t * l, p = pairP[t], q = pairQ[t];
                if (p < 0) continue;
                rotate_pair(a + k * l + p, a + k * l + q, pairC[t], pairS[t]);
                rotate_pair(v + k * l + p, v + k * l + q, pairC[t], pairS[t]);
            }
            barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
            for (int u = lid; u < pairs * l; u += size) {   // rows: Jᵀ·(A·J)
                const int t = u / l, k = u - t * l, p = pairP[t], q = pairQ[t];
                if (p < 0) continue;
                rotate_pair(a + p * l + k, a + q * l + k, pairC[t], pairS[t]);
            }
            barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
        }
    }
    barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    if (lid != 0) return;
    // Selection sort of the eigenpairs, ascending; then the sign convention.
    for (int i = 0; i < l; i++) {
        int smallest = i;
        for (int j = i + 1; j < l; j++) if (a[j * l + j] < a[smallest * l + smallest]) smallest = j;
        if (smallest != i) {
            const real_t value = a[i * l + i];
            a[i * l + i] = a[smallest * l + smallest];
            a[smallest * l + smallest] = value;
            for (int row = 0; row < l; row++) {
                const real_t swap = v[row * l + i];
                v[row * l + i] = v[row * l + smallest];
                v[row * l + smallest] = swap;
            }
        }
    }
    int valid = 1, clipped = 0;
    for (int i = 0; i < l; i++) {
        int largest = 0;
        for (int row = 1; row < l; row++) if (fabs(v[row * l + i]) > fabs(v[largest * l + i])) largest = row;
        const real_t sign = v[largest * l + i] < 0 ? -1 : 1;
        real_t lambda = a[i * l + i], factor = 1;
        if (!isfinite(lambda)) valid = 0;
        if (lambda < tau || lambda <= 0) {
            if (tau <= 0) valid = 0;
            factor = sqrt((1 - tau) / (1 - lambda));
            lambda = tau;
            clipped++;
        }
        for (int row = 0; row < l; row++) {
            const real_t entry = sign * v[row * l + i];
            if (!isfinite(entry)) valid = 0;
            r[row * l + i] = (float)(entry * factor);
        }
        components[eigenvaluesAt + c * l + i] = (float)lambda;
    }
    if (!valid) {
        for (int row = 0; row < l; row++) for (int q = 0; q < l; q++) r[row * l + q] = row == q ? 1.0f : 0.0f;
        components[clippedAt + c] = NAN;
    } else {
        components[clippedAt + c] += (float)clipped;
    }
    for (int p = 0; p < l * l; p++) r2[p] = r[p] * r[p];
}

// tally[0] += Σ_n logDensity[n] (the batch summed in real_t by one work-group, then added in two
// parts with Kahan's compensation in tally[1]), as CPUBackend.tallyLogDensity.   global = local
__kernel void tally_log_density(__global const float* logDensity, const int rows, __global float* tally,
                                __local real_t* scratch) {
    const int lid = get_local_id(0), size = get_local_size(0);
    real_t total = 0, lost = 0;
    for (int n = lid; n < rows; n += size) ACCUMULATE(total, lost, logDensity[n]);
    scratch[lid] = total;
    REDUCE(scratch, lid, size, ADD)
    if (lid == 0) {
        const real_t batch = scratch[0];
        const float high = (float)batch;
        const float parts[2] = {high, (float)(batch - high)};
        for (int i = 0; i < 2; i++) {
            const float y = parts[i] - tally[1];
            const float t = tally[0] + y;
            tally[1] = (t - tally[0]) - y;
            tally[0] = t;
        }
    }
}

// Γ_k ← Γ_k R_k on the [K, l, d] block at `offset` (R_k l×l row-major; for Adam's second
// moment the caller passes R_k∘R_k, which project_components writes beside R_k). No branch in the
// inner loop, so a CPU driver can vectorise across j.                 global: (d, K)
__kernel void rotate_loadings(__global float* block, const int offset, __global const float* rotations,
                              const int d, const int l) {
    const int j = get_global_id(0), c = get_global_id(1);
    __global float* base = block + offset + (size_t)c * l * d + j;
    __global const float* r = rotations + (size_t)c * l * l;
    float old[MAX_LATENT];
    for (int i = 0; i < l; i++) old[i] = base[(size_t)i * d];
    for (int i = 0; i < l; i++) {
        float total = 0.0f;
        for (int s = 0; s < l; s++) total += old[s] * r[s * l + i];
        base[(size_t)i * d] = total;
    }
}

// The per-coordinate quantities of component c (canonical θ: M_k = diag(λ_k)).    global: (d, K)
__kernel void prepare_rows(__global const float* theta, __global float* components, const int K, const int d,
                           const int l, const int meansAt, const int logPrecisionAt, const int loadingsAt, const int logitsAt, const int quadraticAt,
                           const int leverageAt, const int eigenvaluesAt) {
    const int j = get_global_id(0), c = get_global_id(1);
    const int index = c * d + j;
    const float e = exp(theta[logPrecisionAt + index]);
    components[quadraticAt + c * 2 * d + j] = e;
    components[quadraticAt + c * 2 * d + d + j] = -2.0f * e * theta[meansAt + index];
    float leverage = 0.0f;
    for (int i = 0; i < l; i++) {
        const size_t row = (size_t)(c * l + i) * d + j;
        const float g = theta[loadingsAt + row];
        const float inverseLambda = 1.0f / components[eigenvaluesAt + c * l + i];
        leverage += g * g * inverseLambda;
    }
    components[leverageAt + index] = leverage;
}

// One work-group per component: the sums over d (in real_t), Γᵀμ, log π and the offset.
__kernel void prepare_constants(__global const float* theta, __global float* components, const int K,
                                const int d, const int l, const int meansAt, const int logPrecisionAt, const int loadingsAt, const int logitsAt,
                                const int offsetsAt, const int shiftAt,
                                const int weightsAt, const int eigenvaluesAt, __local real_t* scratch) {
    const int c = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    __global const float* mu = theta + meansAt + (size_t)c * d;
    __global const float* a = theta + logPrecisionAt + (size_t)c * d;
    real_t sumLogE = 0, sumEMuSquared = 0, lostLogE = 0, lostEMuSquared = 0;
    for (int j = lid; j < d; j += size) {
        ACCUMULATE(sumLogE, lostLogE, a[j]);
        ACCUMULATE(sumEMuSquared, lostEMuSquared, (real_t)exp(a[j]) * (real_t)mu[j] * (real_t)mu[j]);
    }
    scratch[lid] = sumLogE;
    REDUCE(scratch, lid, size, ADD)
    sumLogE = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    scratch[lid] = sumEMuSquared;
    REDUCE(scratch, lid, size, ADD)
    sumEMuSquared = scratch[0];
    for (int i = 0; i < l; i++) {
        __global const float* g = theta + loadingsAt + (size_t)(c * l + i) * d;
        real_t shift = 0;
        real_t lost = 0;
        for (int j = lid; j < d; j += size) ACCUMULATE(shift, lost, (real_t)g[j] * (real_t)mu[j]);
        barrier(CLK_LOCAL_MEM_FENCE);
        scratch[lid] = shift;
        REDUCE(scratch, lid, size, ADD)
        if (lid == 0) components[shiftAt + c * l + i] = (float)scratch[0];
    }
    if (lid == 0) {
        __global const float* logits = theta + logitsAt;
        real_t top = logits[0];
        for (int k = 1; k < K; k++) top = fmax(top, (real_t)logits[k]);
        real_t total = 0;
        for (int k = 0; k < K; k++) total += exp((real_t)logits[k] - top);
        const real_t logWeight = logits[c] - top - log(total);
        real_t logDetM = 0;
        for (int i = 0; i < l; i++) logDetM += log((real_t)components[eigenvaluesAt + c * l + i]);
        components[offsetsAt + c] = (float)(logWeight - REAL(0.5) * d * REAL(1.8378770664093453) + REAL(0.5) * (sumLogE + logDetM)
                                            - REAL(0.5) * sumEMuSquared);   // 1.8378… = log 2π
        components[weightsAt + c] = (float)exp(logWeight);
    }
}
