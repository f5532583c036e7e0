// glibc's libmvec (part of libc6): expf on 4 float lanes, chosen at load time for the
// CPU (SSE4.1, or an SSE2 fallback). glibc declares its vector functions only for OpenMP SIMD
// loops, so the one used here is declared by its x86-64 vector-ABI name (other architectures
// name them differently; Swift imports this module on x86-64 only).
#if defined(__x86_64__)
#include <emmintrin.h>

__m128 _ZGVbN4v_expf(__m128 x);
#endif
