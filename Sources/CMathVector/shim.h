// glibc's libmvec (part of libc6): exp on 4 float or 2 double lanes, chosen at load time for the
// CPU (SSE4.1, or an SSE2 fallback). glibc declares its vector functions only for OpenMP SIMD
// loops, so the two used here are declared by their x86-64 vector-ABI names.
#include <emmintrin.h>

__m128 _ZGVbN4v_expf(__m128 x);
__m128d _ZGVbN2v_exp(__m128d x);
