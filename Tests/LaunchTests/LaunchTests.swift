import Collectives
import Compute
import Foundation
import Testing

@testable import Launch

/// The launch decision and what each launch runs.
@Suite struct LaunchTests {
    static let mpirunEnvironment = ["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1"]

    @Test func launchersAreRecognisedByTheirEnvironment() {
        #expect(LauncherEnvironment([:]).launcher == .none && !LauncherEnvironment([:]).isMPI)
        #expect(!LauncherEnvironment(["PATH": "/usr/bin", "SLURM_JOB_ID": "7"]).isMPI)
        for variable in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"] {
            #expect(LauncherEnvironment([variable: "0"]).isMPI, "\(variable)")
        }
        #expect(LauncherEnvironment(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "4"]).localRanks == 4)
        #expect(LauncherEnvironment(["OMPI_COMM_WORLD_LOCAL_SIZE": "many"]).localRanks == nil)
    }

    /// srun's environment (as `srun -N 2 -n 4 -c 1 --mpi=pmix` sets it): the tasks on this node, the CPUs
    /// per task (the default compute threads), the job; srun without an MPI plugin is refused.
    @Test func slurmsEnvironmentIsRead() throws {
        let srun = [
            "PMIX_RANK": "3", "SLURM_JOB_ID": "12", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "4",
            "SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURM_NODEID": "1", "SLURM_CPUS_PER_TASK": "3",
            "SLURM_STEP_TASKS_PER_NODE": "2(x2)", "SLURM_RESTART_COUNT": "1",
        ]
        let launcher = LauncherEnvironment(srun)
        #expect(launcher.launcher == .srun && launcher.isMPI && launcher.problem == nil)
        #expect(launcher.localRanks == 2 && launcher.cpusPerTask == 3)
        #expect(launcher.slurmJob == "12" && launcher.slurmRestarts == 1)
        #expect(Launch.defaultThreads(launcher) == 3)
        var noCPUs = srun
        noCPUs["SLURM_CPUS_PER_TASK"] = nil
        #expect(
            Launch.defaultThreads(LauncherEnvironment(noCPUs))
                == max(1, ProcessInfo.processInfo.activeProcessorCount / 2))
        #expect(LauncherEnvironment.tasksOnNode("3,2(x3),1", node: 3) == 2)
        #expect(LauncherEnvironment.tasksOnNode("3,2(x3),1", node: 4) == 1)
        #expect(LauncherEnvironment.tasksOnNode("2(x", node: 0) == nil)
        var plain = srun
        plain["PMIX_RANK"] = nil
        #expect(throws: LaunchError.self) { try Launch(simulate: nil, environment: plain) }
        #expect(LauncherEnvironment(plain).problem?.contains("srun --mpi=pmix") == true)
        // The batch script itself (one task, no step of several): one process.
        #expect(try Launch(simulate: nil, environment: ["SLURM_JOB_ID": "12", "SLURM_CPUS_PER_TASK": "2"]) == .single)
    }

    @Test func theEnvironmentAndSimulateDecide() throws {
        #expect(try Launch(simulate: nil, environment: [:]) == .single)
        #expect(try Launch(simulate: 4, environment: ["PATH": "/usr/bin"]) == .simulated(ranks: 4))
        #expect(try Launch(simulate: nil, environment: Self.mpirunEnvironment) == .mpi)
        // Slurm's srun through PMIx or PMI-2.
        #expect(try Launch(simulate: nil, environment: ["PMIX_RANK": "0"]) == .mpi)
        #expect(try Launch(simulate: nil, environment: ["PMI_RANK": "0", "PMI_SIZE": "2"]) == .mpi)
    }

    @Test func simulatingInsideAnMPIJobIsRefused() {
        #expect {
            try Launch(simulate: 2, environment: Self.mpirunEnvironment)
        } throws: {
            "\($0)" == "--simulate runs every rank in this process; do not start it under mpirun"
        }
    }

    @Test func ranksShareTheCoresByDefault() {
        #expect(Launch.defaultThreads(ranksOnThisMachine: 1, cores: 2) == 2)
        #expect(Launch.defaultThreads(ranksOnThisMachine: 4, cores: 2) == 1)
        #expect(Launch.defaultThreads(ranksOnThisMachine: 3, cores: 8) == 2)
        #expect(Launch.defaultThreads(ranksOnThisMachine: 0, cores: 8) == 8)
    }

    /// One process runs the body once, on the calling thread, with a one-rank communicator whose
    /// collectives are copies.
    @Test func singleRunsOneRankOnTheCallingThread() throws {
        let caller = Thread.current.description
        let result = try Launch.single.run(threads: 1, overlap: true) { comm, launched in
            var values: [Float] = [1.5, -2]
            try values.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            return
                "\(comm.rank)/\(comm.size) \(launched.overlap) \(values) \(Thread.current.description == caller) \(ComputeEngine.threadCount)"
        }
        #expect(result == "0/1 true [1.5, -2.0] true 1")
    }

    /// K threads: every rank runs the body; rank 0's result comes back; an error on any rank ends the run.
    @Test func simulatedRunsEveryRankAndReturnsRankZeros() throws {
        let result = try Launch.simulated(ranks: 3).run(threads: 1, overlap: false) { comm, _ in
            var values: [Float] = [Float(comm.rank + 1)]
            try values.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            return "rank \(comm.rank) of \(comm.size): \(values[0])"
        }
        #expect(result == "rank 0 of 3: 6.0")
        struct Failure: Error {}
        #expect(throws: (any Error).self) {
            try Launch.simulated(ranks: 2).run(threads: 1, overlap: false) { comm, _ -> Int in
                if comm.rank == 1 { throw Failure() }
                var values: [Float] = [1]
                try values.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
                return 0
            }
        }
    }
}
