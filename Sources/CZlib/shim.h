// zlib (Debian: zlib1g-dev): gzip input and PNG output.
#include <zlib.h>
