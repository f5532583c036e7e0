// Open MPI's C API (Debian: libopenmpi-dev). Its handles (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, MPI_MAX,
// MPI_IN_PLACE) are macros over addresses of library symbols, which Swift cannot import; these
// functions hand them over.
#include <mpi.h>

static inline MPI_Comm mfa_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype mfa_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op mfa_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op mfa_mpi_max(void) { return MPI_MAX; }
static inline void *mfa_mpi_in_place(void) { return MPI_IN_PLACE; }

// This process's rank and the number of ranks on its node (MPI_COMM_TYPE_SHARED), from MPI itself
// rather than from one launcher's environment variables.
static inline int mfa_mpi_node_ranks(int *localRank, int *localSize) {
    MPI_Comm node;
    int status = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    if (status != MPI_SUCCESS) return status;
    MPI_Comm_rank(node, localRank);
    MPI_Comm_size(node, localSize);
    return MPI_Comm_free(&node);
}
