import Foundation
import MFA
import MFACPU
import MFAMPI

/// How this process was started: alone, or as one rank of an MPI launch (`mpirun`, `srun`),
/// found from the launcher's environment or forced by `--distributed mpi`. Under MPI the training
/// commands train data-parallel; rank 0 alone prints and writes files; the other commands run on
/// rank 0 while the other ranks end at once.
enum Launch {
    nonisolated(unsafe) private(set) static var group: MPIReducer?

    static var rank: Int { group?.rank ?? 0 }
    /// The rank an MPI launcher gave this process, from its environment (before MPI starts).
    static var launcherRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first
    }
    static var leads: Bool { rank == 0 }
    /// What the training loop adds its sums up with.
    static var reducer: any Reducer { group ?? SingleProcess() }

    /// Joins the MPI job when asked or launched as one; idempotent.
    static func begin(_ mode: DistributedMode) throws {
        guard group == nil, mode == .mpi || (mode == .auto && MPIReducer.launched) else { return }
        group = try MPIReducer()
    }

    /// " on 2 MPI ranks", for the backend line; empty when alone.
    static var description: String {
        guard let group else { return "" }
        return " on \(group.processes) MPI rank\(group.processes == 1 ? "" : "s")"
    }

    /// CPU threads per process: the cores of its affinity mask, shared among the ranks on its
    /// node unless the launcher already bound each rank to its own cores.
    static func defaultThreads() -> Int {
        let mask = CPUThreads.affinity
        guard let group, group.localProcesses > 1 else { return mask }
        let bound = mask < ProcessInfo.processInfo.processorCount
        return bound ? mask : max(1, mask / group.localProcesses)
    }

    /// The OpenCL device of this rank when none is named: one per rank on a node, in turn.
    static func defaultDevice(count: Int) -> Int? {
        guard let group, count > 0 else { return nil }
        return group.localRank % count
    }

    /// Runs `body` on rank 0 only, once every rank has got this far (so no rank is still failing
    /// when the leader writes the model).
    static func leaderWrites(_ body: () throws -> Void) throws {
        if let group, group.processes > 1 {
            var agreed = [1.0]
            try group.sum(&agreed)
        }
        if leads { try body() }
    }

    /// Ends the process: under MPI after MPI_Finalize, or for a failure with more than one rank,
    /// by MPI_Abort, which ends every rank (a job never half-finishes).
    static func end(status: Int32, everyRank: Bool = false) -> Never {
        if let group {
            if status != 0, !everyRank, group.processes > 1 { group.abort(status: status) }
            group.finish()
        }
        exit(status)
    }
}

/// `--distributed`: auto (MPI when a launcher started the process), mpi (always; alone it is one
/// rank), off (never: each process trains alone).
enum DistributedMode: String, CaseIterable {
    case auto, mpi, off
}

/// A command that every rank of an MPI launch runs: the training commands (data-parallel) and
/// `devices` (each rank says what it got).
protocol RunsOnEveryRank {
    var distributedMode: DistributedMode { get }
}

extension Train: RunsOnEveryRank { var distributedMode: DistributedMode { training.backendOptions.distributed } }
extension Select: RunsOnEveryRank { var distributedMode: DistributedMode { training.backendOptions.distributed } }
extension DGMMTrain: RunsOnEveryRank { var distributedMode: DistributedMode { backendOptions.distributed } }
extension Devices: RunsOnEveryRank { var distributedMode: DistributedMode { .auto } }
