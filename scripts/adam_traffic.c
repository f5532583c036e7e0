/* Adam's arithmetic on 4 M floats (about Γ's count at K = 500, l = 10, d = 784) against a plain
 * three-reads-one-write pass over the same arrays: whether the CPU step's Adam is bound by memory
 * or by its square roots and divisions (README, "Speed"). Not part of the build:
 *   gcc -O3 -march=native -fno-math-errno -fopenmp scripts/adam_traffic.c -o /tmp/adam_traffic -lm
 *   OMP_NUM_THREADS=2 /tmp/adam_traffic [N]
 * N floats per array (default 4,000,000); 60,000,000 (240 MB each) puts them far out of cache.
 * The first repetition includes page faults; read the later ones. Without -fno-math-errno, sqrtf
 * keeps its errno check and the loop stays scalar: Adam then took 4.6 ms against 1.9–2.3 ms here,
 * the same lesson as the Swift lanes' square roots (README, "Speed"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
    float *theta = malloc(n * 4), *m = malloc(n * 4), *v = malloc(n * 4), *g = malloc(n * 4);
    for (size_t i = 0; i < n; i++) { theta[i] = 1; m[i] = 0; v[i] = 0; g[i] = 0.001f * (float)(i % 7); }
    for (int repetition = 0; repetition < 3; repetition++) {
        double began = now();
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) {
            float first = 0.9f * m[i] + 0.1f * g[i], second = 0.999f * v[i] + 0.001f * g[i] * g[i];
            m[i] = first;
            v[i] = second;
            theta[i] -= 0.1f * first / (sqrtf(second) + 1e-8f);
        }
        double adam = now() - began;
        began = now();
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) theta[i] += m[i] + v[i];
        double stream = now() - began;
        printf("Adam (4 reads, 3 writes): %.2f ms, %.1f GB/s;  3 reads, 1 write: %.2f ms, %.1f GB/s\n",
               adam * 1e3, 7.0 * n * 4 / adam / 1e9, stream * 1e3, 4.0 * n * 4 / stream / 1e9);
    }
    free(theta); free(m); free(v); free(g);
    return 0;
}
