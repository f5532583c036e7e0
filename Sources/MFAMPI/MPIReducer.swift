import CMPI
import Foundation
import MFA

/// The processes of an MPI launch (`mpirun`, `srun`) training one model together: the training
/// loop's `Reducer` on Open MPI's MPI_Allreduce (DESIGN.md §6). Every global batch is cut into
/// chunks of `chunkRows` rows whatever the number of processes, so `-np 1` and `-np 2` compute
/// the same passes; their float64 sums differ at most by float64 rounding.
public final class MPIReducer: Reducer, @unchecked Sendable {
    public let processes: Int
    public let rank: Int
    /// This process's place among the ranks on its node (one GPU each, one share of the cores).
    public let localRank: Int
    public let localProcesses: Int
    public var chunkRows: Int? { Self.chunkRows }
    /// Large enough for efficient GEMMs on a CPU core, small enough to share a 5,000-row batch.
    public static let chunkRows = 256

    /// Whether the environment says an MPI launcher started this process (Open MPI, PMI, PMIx).
    public static var launched: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
    }

    /// Initialises MPI; once per process. Without a launcher, MPI starts as a singleton (one rank).
    public init() throws {
        var status = MPI_Init(nil, nil)
        guard status == MPI_SUCCESS else { throw MFAError.invalidArgument("MPI_Init failed (status \(status))") }
        var (rank, size, localRank, localSize): (Int32, Int32, Int32, Int32) = (0, 1, 0, 1)
        MPI_Comm_rank(mfa_mpi_comm_world(), &rank)
        MPI_Comm_size(mfa_mpi_comm_world(), &size)
        status = mfa_mpi_node_ranks(&localRank, &localSize)
        guard status == MPI_SUCCESS else { throw MFAError.invalidArgument("MPI could not group the ranks by node (status \(status))") }
        (processes, self.rank, localProcesses, self.localRank) = (Int(size), Int(rank), Int(localSize), Int(localRank))
    }

    public func sum(_ values: inout [Double]) throws { try allReduce(&values, mfa_mpi_sum()) }

    public func maximum(_ values: inout [Double]) throws { try allReduce(&values, mfa_mpi_max()) }

    private func allReduce(_ values: inout [Double], _ operation: MPI_Op) throws {
        guard values.count <= Int(Int32.max) else { throw MFAError.invalidArgument("\(values.count) values are too many for one MPI_Allreduce") }
        let status = values.withUnsafeMutableBufferPointer {
            MPI_Allreduce(mfa_mpi_in_place(), $0.baseAddress, Int32($0.count), mfa_mpi_double(), operation, mfa_mpi_comm_world())
        }
        guard status == MPI_SUCCESS else { throw MFAError.invalidArgument("MPI_Allreduce failed (status \(status))") }
    }

    /// Ends MPI normally; every rank must call it before exiting.
    public func finish() { MPI_Finalize() }

    /// Ends every rank of the job at once with `status` (a rank failed).
    public func abort(status: Int32) -> Never {
        MPI_Abort(mfa_mpi_comm_world(), status)
        exit(status)
    }
}
