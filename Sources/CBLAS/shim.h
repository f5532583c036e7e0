// CBLAS from OpenBLAS (Debian: libopenblas-dev).
#include <cblas.h>
