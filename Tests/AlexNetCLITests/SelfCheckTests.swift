import Foundation
import Testing

let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs a command and returns its stdout lines, sorted (ranks print in any order).
func sortedOutputLines(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:]
) throws -> (Int32, [String]) {
    let outcome = try runProcess(executable, arguments, environment: environment)
    return (outcome.status, outcome.stdout.split(separator: "\n").map(String.init).sorted())
}

@Suite struct SelfCheckTests {
    /// `mpirun -n K` (the MPI communicator) and `--simulate K` (in-process ranks) give bit-identical results
    /// for every collective: the digests of every check on every rank match.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"), .timeLimit(.minutes(10)),
        arguments: [2, 4])
    func mpiAndInProcessCollectivesAgreeBitForBit(_ ranks: Int) throws {
        let (simulatedStatus, simulated) = try sortedOutputLines(tool, ["selfcheck", "--simulate", "\(ranks)"])
        #expect(simulatedStatus == 0)
        let (mpiStatus, mpi) = try sortedOutputLines(
            mpirun!, ["-n", "\(ranks)", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", tool, "selfcheck"],
            environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"])
        #expect(mpiStatus == 0)
        #expect(simulated.count == 27 * ranks)
        #expect(mpi == simulated)
    }
}
