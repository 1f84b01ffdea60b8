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
        let launcher = LauncherEnvironment(environment)
        if let problem = launcher.problem { throw LaunchError(problem) }
        switch (simulate, launcher.isMPI) {
        case (let k?, false): self = .simulated(ranks: k)
        case (_?, true):
            throw LaunchError("--simulate runs every rank in this process; do not start it under mpirun")
        case (nil, true): self = .mpi
        case (nil, false): self = .single
        }
    }

    /// Compute threads per rank by default under a launcher: the CPUs Slurm gave each task, else the cores
    /// shared by the job's ranks on this machine.
    public static func defaultThreads(_ launcher: LauncherEnvironment) -> Int {
        launcher.cpusPerTask ?? defaultThreads(ranksOnThisMachine: launcher.localRanks ?? 1)
    }

    /// Compute threads per rank by default: the cores shared by the ranks on this machine.
    public static func defaultThreads(
        ranksOnThisMachine: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Int {
        max(1, cores / max(1, ranksOnThisMachine))
    }

    /// What `run` gives each rank's body besides its communicator.
    public struct Rank: Sendable {
        /// Whether collectives may run on transfer threads (if the MPI library allows it).
        public let overlap: Bool
        /// The rank's status for the collective watchdog and the process's stop request.
        public let supervision: Supervision
        /// Under MPI, the library's own `MPI_Allreduce` (sum, in place) over every rank, for benchmarks to
        /// compare against; nil for in-process ranks.
        public var libraryAllReduce: LibraryAllReduce? = nil
    }

    /// `MPI_Allreduce` on the job's world, outside the watched communicator (a benchmark's yardstick).
    public struct LibraryAllReduce: @unchecked Sendable {
        let world: MPICommunicator
        public func callAsFunction(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
            try world.allReduceBaseline(buffer)
        }
    }

    /// Runs `body` on every rank: on the calling thread (`single`), on K threads of this process, or as this
    /// process's rank of the MPI job, which must have at least 2 ranks (a one-rank job is the single case,
    /// run without mpirun). Each rank computes with `threads` compute threads (default `defaultThreads`).
    /// Across ranks, every collective is watched (Note [collective watchdog]) with `watchdog`'s settings, and
    /// errors follow Note [every rank's errors]. Returns rank 0's result, nil on the other MPI ranks.
    public func run<T>(
        threads: Int?, overlap: Bool, watchdog: CollectiveWatchdog.Settings? = nil,
        _ body: @escaping @Sendable (Communicator, Rank) throws -> T
    ) throws -> T? {
        let settings = watchdog ?? CollectiveWatchdog.Settings(timeout: CollectiveWatchdog.Settings.defaultTimeout)
        switch self {
        case .single:
            ComputeEngine.threadCount = threads ?? Launch.defaultThreads(ranksOnThisMachine: 1)
            let status = RankStatus(rank: 0)
            return try body(
                InProcessCommunicator.alone(),
                Rank(overlap: overlap, supervision: Supervision(status: status, stop: .process)))
        case .simulated(let k):
            let threads = threads ?? Launch.defaultThreads(ranksOnThisMachine: k)
            let statuses = (0..<k).map { RankStatus(rank: $0) }
            let notices = RunNotices()
            let dog = CollectiveWatchdog(
                settings: settings, local: statuses, worldSize: k, board: SharedBoard(statuses),
                warn: {
                    Launch.say($0); notices.post(.watchdogWarning, $0)
                }
            ) { message in
                Launch.say("alexnet-dist: error: \(message)")
                notices.post(.watchdogAbort, message)
                exit(ExitStatus.collectiveTimeout)
            }
            dog.start()
            defer { dog.stop() }
            return try InProcessCommunicator.run(size: k) { comm in
                // OpenMP's thread count is per thread: each rank sets its own.
                ComputeEngine.threadCount = threads
                let status = statuses[comm.rank]
                return try body(
                    WatchedCommunicator(wrapping: comm, status: status),
                    Rank(
                        overlap: overlap, supervision: Supervision(status: status, stop: .process, notices: notices)))
            }[0]
        case .mpi:
            let world = try MPICommunicator.world()
            let launcher = LauncherEnvironment()
            guard world.size >= 2 else {
                MPICommunicator.finalize()
                let name = launcher.launcher == .srun ? "srun" : "mpirun"
                throw LaunchError(
                    "\(name) started 1 rank: a run across ranks needs at least 2 (\(name) -n 4 …); to run in one process, start alexnet-dist without \(name)"
                )
            }
            ComputeEngine.threadCount = threads ?? Launch.defaultThreads(launcher)
            let status = RankStatus(rank: world.rank)
            let notices = RunNotices()
            var dog: CollectiveWatchdog?
            defer { dog?.stop() }
            do {
                dog = try Launch.startWatchdog(settings, world: world, status: status, notices: notices)
                let result = try body(
                    WatchedCommunicator(wrapping: world, status: status),
                    Rank(
                        overlap: overlap && world.allowsConcurrentCalls,
                        supervision: Supervision(status: status, stop: .process, notices: notices),
                        libraryAllReduce: LibraryAllReduce(world: world)))
                dog?.stop()
                MPICommunicator.finalize()
                return world.rank == 0 ? result : nil
            } catch let error as RunEndingError where error.sharedByEveryRank {
                // Every rank raised it from agreed figures: rank 0 reports it, every rank leaves alike.
                dog?.stop()
                MPICommunicator.finalize()
                if world.rank == 0 { throw error }
                exit(error.exitStatus)
            } catch {
                // One rank's error: it alone knows, so it ends the job (Note [every rank's errors]). Rank 0
                // reports at once; another rank waits a moment, so that when every rank fails alike the
                // job ends with rank 0's message only.
                if world.rank != 0 { Thread.sleep(forTimeInterval: 1) }
                Launch.say("alexnet-dist: error: \(RankError(rank: world.rank, error))")
                MPICommunicator.abort(status: (error as? RunEndingError)?.exitStatus ?? ExitStatus.failure)
            }
        }
    }

    /// The watchdog of an MPI rank: heartbeats over UDP between the ranks' processes (their addresses
    /// exchanged once over MPI), aborting the whole job on a timeout.
    private static func startWatchdog(
        _ settings: CollectiveWatchdog.Settings, world: MPICommunicator, status: RankStatus, notices: RunNotices
    ) throws -> CollectiveWatchdog {
        let heartbeats = try UDPHeartbeats()
        let addresses = try world.allGatherBytes(heartbeats.address, collective: "watchdog addresses")
        // A token every rank derives alike from what they exchanged: this job's heartbeats only.
        var token: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in addresses.joined() { token = (token ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        heartbeats.connect(addresses: addresses, rank: world.rank, token: token)
        let dog = CollectiveWatchdog(
            settings: settings, local: [status], worldSize: world.size, board: heartbeats,
            warn: {
                say($0); notices.post(.watchdogWarning, $0)
            }
        ) { message in
            say("alexnet-dist: error: \(message)")
            notices.post(.watchdogAbort, message)
            MPICommunicator.abort(status: ExitStatus.collectiveTimeout)
        }
        dog.start()
        return dog
    }

    /// A line on stderr.
    @Sendable static func say(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
