import Collectives
import Foundation
import MPIBackend
import Processes
import Testing

/// Open MPI's launcher, if installed.
let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Set in the environment of the ranks `mpiRunMatchesInProcess` starts: where they write their lines.
let childOutputVariable = "ALEXNET_DIST_MPI_TEST_OUTPUT"

/// The MPI communicator. Its collectives can only run in processes `mpirun` starts, so one test starts
/// this very test binary under `mpirun -n K`, running only `rankOfAnMPIJob` in each rank, and compares
/// what the ranks computed with the in-process communicator's results (Note [deterministic reduction]).
@Suite struct MPICommunicatorTests {
    /// Every collective of the self-check battery (uneven and empty segments, the ring gathers, the
    /// chunked allreduce, the compressed allreduce with every codec) gives the in-process communicator's
    /// bits on 3 MPI processes, and a split communicator works beside the world.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .disabled(if: ProcessInfo.processInfo.environment[childOutputVariable] != nil, "a rank of the job itself"),
        .timeLimit(.minutes(10)))
    func mpiRunMatchesInProcess() throws {
        let ranks = 3
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let run = try ChildProcess(
            [
                mpirun!, "-n", "\(ranks)", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", "-x",
                childOutputVariable, binary, "--testing-library", "swift-testing", "--filter", "rankOfAnMPIJob",
            ],
            environment: ChildProcess.environment(adding: [
                childOutputVariable: directory, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            ]), mergeErrorIntoOutput: true, timeout: 540
        ).run()
        #expect(run.status == 0 && !run.timedOut, "mpirun: \(run.outputText.suffix(2000))")

        let expected = try InProcessCommunicator.run(size: ranks) { try CollectiveSelfCheck.run($0) }
        for r in 0..<ranks {
            let path = "\(directory)/rank-\(r).txt"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            let sameHalf = (0..<ranks).filter { $0 % 2 == r % 2 }.count
            #expect(
                lines.first == "size \(ranks) rank \(r) split \(sameHalf)", "rank \(r): \(lines.first ?? "nothing")")
            #expect(Array(lines.dropFirst()) == expected[r], "rank \(r)'s digests differ from the in-process ones")
        }
    }

    /// Runs only as a rank of the job `mpiRunMatchesInProcess` starts: the world's size and rank, a split
    /// communicator, then the self-check battery, written to the parent's folder.
    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
                && ProcessInfo.processInfo.environment[childOutputVariable] != nil,
            "runs only as a rank of the job mpiRunMatchesInProcess starts"))
    func rankOfAnMPIJob() throws {
        let directory = ProcessInfo.processInfo.environment[childOutputVariable]!
        let world = try MPICommunicator.world()
        defer { MPICommunicator.finalize() }
        // Even and odd ranks in two halves: a collective on one half does not involve the other.
        let half = try world.split(color: world.rank % 2, key: world.rank)
        var one: [Float] = [1]
        try one.withUnsafeMutableBufferPointer { try half.allReduce($0) }
        var lines = ["size \(world.size) rank \(world.rank) split \(Int(one[0]))"]
        lines += try CollectiveSelfCheck.run(world, overlap: world.allowsCallsFromOtherThreads)
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: "\(directory)/rank-\(world.rank).txt", atomically: true, encoding: .utf8)
    }
}
