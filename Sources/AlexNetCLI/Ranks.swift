import ArgumentParser
import Collectives
import Compute
import Foundation
import MPIBackend

/// Runs `body` on every rank of a run across ranks: K threads of this process with `simulate` (the same
/// results as `mpirun -n K`), otherwise the MPI job this process belongs to, which must have at least 2
/// ranks. Each rank computes with `threads` compute threads (default: the cores shared by the ranks on
/// this machine). `body` gets whether collectives may run on transfer threads (`overlap`, if the MPI
/// library allows it). Returns rank 0's result, nil on the other MPI ranks.
func onRanks<T>(
    simulate: Int?, threads: Int?, overlap: Bool,
    _ body: @escaping @Sendable (Communicator, _ overlap: Bool) throws -> T
) throws -> T? {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    if let k = simulate {
        let threads = threads ?? max(1, cores / k)
        return try InProcessCommunicator.run(size: k) { comm in
            // OpenMP's thread count is per thread: each rank sets its own.
            ComputeEngine.threadCount = threads
            return try body(comm, overlap)
        }[0]
    }
    let world = try MPICommunicator.world()
    defer { MPICommunicator.finalize() }
    guard world.size >= 2 else {
        throw ValidationError(
            "mpirun started 1 rank: a run across ranks needs at least 2 (mpirun -n 4 …); to run in one process, start alexnet-dist without mpirun"
        )
    }
    ComputeEngine.threadCount = threads ?? max(1, cores / MPICommunicator.localRanks)
    let result = try body(world, overlap && world.allowsConcurrentCalls)
    return world.rank == 0 ? result : nil
}
