import Collectives
import Compute
import Foundation
import MPIBackend

/// Where a command's ranks come from, decided once from `--simulate` and the launcher's environment, and
/// how each rank is started. Every command that runs across ranks (`train`, `bench training`) goes
/// through it, so one process, K threads and K MPI processes run the same code.
public enum Launch: Equatable, Sendable {
    /// One process, one rank: plain `alexnet-dist train`.
    case single
    /// K ranks as threads of this process (`--simulate K`): the same results as `mpirun -n K`.
    case simulated(ranks: Int)
    /// This process is one rank of an MPI job (started by `mpirun`, `mpiexec` or `srun`).
    case mpi

    /// - Parameters:
    ///   - simulate: `--simulate K`, if given.
    ///   - environment: the process's environment (where MPI launchers leave their marks).
    /// - Throws: `LaunchError` for `--simulate` inside an MPI job (every rank would simulate K more).
    public init(simulate: Int?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let underMPI = MPICommunicator.launchedByMPI(environment: environment)
        switch (simulate, underMPI) {
        case (let k?, false): self = .simulated(ranks: k)
        case (_?, true):
            throw LaunchError("--simulate runs every rank in this process; do not start it under mpirun")
        case (nil, true): self = .mpi
        case (nil, false): self = .single
        }
    }

    /// Compute threads per rank by default: the cores shared by the ranks on this machine.
    public static func defaultThreads(
        ranksOnThisMachine: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Int {
        max(1, cores / max(1, ranksOnThisMachine))
    }

    /// Runs `body` on every rank: on the calling thread (`single`), on K threads of this process, or as this
    /// process's rank of the MPI job, which must have at least 2 ranks (a one-rank job is the single case,
    /// run without mpirun). Each rank computes with `threads` compute threads (default `defaultThreads`).
    /// `body` gets whether collectives may run on transfer threads (`overlap`, if the MPI library allows
    /// it). Returns rank 0's result, nil on the other MPI ranks.
    public func run<T>(
        threads: Int?, overlap: Bool, _ body: @escaping @Sendable (Communicator, _ overlap: Bool) throws -> T
    ) throws -> T? {
        switch self {
        case .single:
            ComputeEngine.threadCount = threads ?? Launch.defaultThreads(ranksOnThisMachine: 1)
            return try body(InProcessCommunicator.alone(), overlap)
        case .simulated(let k):
            let threads = threads ?? Launch.defaultThreads(ranksOnThisMachine: k)
            return try InProcessCommunicator.run(size: k) { comm in
                // OpenMP's thread count is per thread: each rank sets its own.
                ComputeEngine.threadCount = threads
                return try body(comm, overlap)
            }[0]
        case .mpi:
            let world = try MPICommunicator.world()
            defer { MPICommunicator.finalize() }
            guard world.size >= 2 else {
                throw LaunchError(
                    "mpirun started 1 rank: a run across ranks needs at least 2 (mpirun -n 4 …); to run in one process, start alexnet-dist without mpirun"
                )
            }
            ComputeEngine.threadCount =
                threads ?? Launch.defaultThreads(ranksOnThisMachine: MPICommunicator.localRanks())
            let result = try body(world, overlap && world.allowsConcurrentCalls)
            return world.rank == 0 ? result : nil
        }
    }
}
