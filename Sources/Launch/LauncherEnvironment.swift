import Foundation

/// What the process's launcher says about this rank, read from its environment before MPI starts: Open MPI's
/// `mpirun` (`OMPI_COMM_WORLD_*`), Slurm's `srun` (`SLURM_*`, with PMIx or PMI-2 for MPI) or another PMI
/// launcher.
public struct LauncherEnvironment: Equatable, Sendable {
    public enum Launcher: String, Equatable, Sendable {
        /// No launcher: one process.
        case none
        case mpirun
        case srun
        /// Another PMI/PMIx launcher (`mpiexec` of another MPI, a PMIx server).
        case pmi
    }

    public var launcher: Launcher
    /// Ranks of this job on this host, when the launcher says.
    public var localRanks: Int?
    /// CPUs Slurm gave each task (`--cpus-per-task`).
    public var cpusPerTask: Int?
    /// Slurm's job id and how many times the job was requeued (`SLURM_RESTART_COUNT`).
    public var slurmJob: String?
    public var slurmRestarts: Int?
    /// Why the launch cannot work (srun started tasks without an MPI plugin), or nil.
    public var problem: String?
    /// PMIx or PMI-2 variables are set: MPI can find the job's other ranks.
    public var hasPMI: Bool

    public init(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
        let pmi = ["PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
        hasPMI = pmi
        let srunTasks = Int(environment["SLURM_STEP_NUM_TASKS"] ?? "")
        if environment["OMPI_COMM_WORLD_SIZE"] != nil {
            launcher = .mpirun
        } else if environment["SLURM_STEP_ID"] != nil && srunTasks != nil {
            launcher = .srun
        } else {
            launcher = pmi ? .pmi : .none
        }
        slurmJob = environment["SLURM_JOB_ID"]
        slurmRestarts = Int(environment["SLURM_RESTART_COUNT"] ?? "")
        cpusPerTask = Int(environment["SLURM_CPUS_PER_TASK"] ?? "").flatMap { $0 > 0 ? $0 : nil }
        if let local = Int(environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? ""), local > 0 {
            localRanks = local
        } else if launcher == .srun {
            localRanks = LauncherEnvironment.tasksOnNode(
                environment["SLURM_STEP_TASKS_PER_NODE"] ?? environment["SLURM_TASKS_PER_NODE"],
                node: Int(environment["SLURM_NODEID"] ?? "") ?? 0)
        }
        if launcher == .srun && !pmi && (srunTasks ?? 1) > 1 {
            problem =
                "srun started \(srunTasks!) tasks without an MPI plugin: each would be a job of one rank; launch with srun --mpi=pmix (srun --mpi=list shows the plugins), or with mpirun inside the allocation"
        }
    }

    /// Whether this process is one rank of an MPI job (started by mpirun, or by a launcher that gave it PMI).
    public var isMPI: Bool { launcher == .mpirun || hasPMI }

    /// Node `node`'s count in Slurm's tasks-per-node list (`2(x3),1`: 2 on each of three nodes, then 1).
    static func tasksOnNode(_ list: String?, node: Int) -> Int? {
        guard let list else { return nil }
        var counts: [Int] = []
        for part in list.split(separator: ",") {
            if let open = part.firstIndex(of: "(") {
                guard let count = Int(part[..<open]),
                    let times = Int(part[part.index(open, offsetBy: 2)...].dropLast()), part.hasSuffix(")")
                else { return nil }
                counts += Array(repeating: count, count: times)
            } else {
                guard let count = Int(part) else { return nil }
                counts.append(count)
            }
        }
        return counts.indices.contains(node) ? counts[node] : nil
    }
}
