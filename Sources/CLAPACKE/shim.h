// LAPACKE (Debian: liblapacke-dev), calling OpenBLAS's LAPACK.
#include <lapacke.h>
// `lapack_int` is a macro, which Swift cannot see.
typedef lapack_int lapack_int_t;
