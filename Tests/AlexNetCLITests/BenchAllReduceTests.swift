import Foundation
import Testing

/// `mpirun` arguments for `ranks` oversubscribed ranks running the tool, and the environment root needs.
func mpiCommand(_ ranks: Int, _ arguments: [String]) -> (arguments: [String], environment: [String: String]) {
    (
        ["-n", "\(ranks)", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", tool] + arguments,
        ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
    )
}

/// Runs the tool on `ranks` ranks: in-process (`--simulate`) or under mpirun.
func runRanks(_ ranks: Int, mpi: Bool, _ arguments: [String]) throws -> Outcome {
    if mpi {
        let command = mpiCommand(ranks, arguments)
        return try runProcess(mpirun!, command.arguments, environment: command.environment)
    }
    return try runTool(arguments + ["--simulate", "\(ranks)"])
}

@Suite struct BenchAllReduceTests {
    struct Row: Decodable {
        var elements: Int
        var codec: String
        var maxAbsoluteError: Double
        var sentFraction: Double
        var identicalOnAllRanks: Bool
        var baselineMedianSeconds: Double?
    }

    /// The benchmark's figures: lossless codecs exact, lossy ones close and smaller, every rank identical;
    /// under MPI the MPI_Allreduce baseline is measured beside.
    @Test(.timeLimit(.minutes(10)))
    func benchReportsExactLosslessAndSmallerLossyResultsInProcess() throws {
        try benchReportsExactLosslessAndSmallerLossyResults(3, mpi: false)
    }

    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"), .timeLimit(.minutes(10)),
        arguments: [2, 4])
    func benchReportsExactLosslessAndSmallerLossyResultsUnderMPI(_ ranks: Int) throws {
        try benchReportsExactLosslessAndSmallerLossyResults(ranks, mpi: true)
    }

    private func benchReportsExactLosslessAndSmallerLossyResults(_ ranks: Int, mpi: Bool) throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("allreduce-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let outcome = try runRanks(
            ranks, mpi: mpi,
            [
                "bench", "allreduce", "--sizes", "0,1003,70000", "--codecs", "none,zstd,bf16+zstd,fp16,topk",
                "--warmup", "0", "--repetitions", "1", "--chunk-elements", "16384", "--json", json,
            ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let rows = try decoder.decode([Row].self, from: Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(rows.count == 15)
        for row in rows {
            #expect(row.identicalOnAllRanks, "\(row.codec) \(row.elements)")
            #expect((row.baselineMedianSeconds != nil) == mpi)
            switch row.codec {
            case "none", "zstd": #expect(row.maxAbsoluteError == 0, "\(row.codec) \(row.elements)")
            default: #expect(row.maxAbsoluteError < 1e-2, "\(row.codec) \(row.elements)")
            }
            if row.elements == 70000 && row.codec != "none" { #expect(row.sentFraction < 1, "\(row.codec)") }
        }
    }

    /// A corrupted frame, a rank with another length, a rank naming an unknown codec: every case fails with
    /// an error naming the rank and the collective and a non-zero exit, in-process and under MPI, never a
    /// hang.
    static let faults = [
        ("corrupt-frame:1", "compressedAllReduce(zstd, bench, 5000 elements): frame from rank 1", "checksum mismatch"),
        ("mismatch-length:1", "allReduce: rank 1 called", "allReduce"),
        ("unknown-codec:1", "compressedAllReduce(zstd, 5000 elements): rank 1: unknown codec 'lz4'", "expected none"),
    ]

    @Test(.timeLimit(.minutes(10)), arguments: faults)
    func injectedFaultsFailEveryRankInProcess(_ fault: (String, String, String)) throws {
        try injectedFaultsFailEveryRankNamingRankAndCollective(fault, mpi: false)
    }

    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"), .timeLimit(.minutes(10)),
        arguments: faults)
    func injectedFaultsFailEveryRankUnderMPI(_ fault: (String, String, String)) throws {
        try injectedFaultsFailEveryRankNamingRankAndCollective(fault, mpi: true)
    }

    private func injectedFaultsFailEveryRankNamingRankAndCollective(
        _ fault: (String, String, String), mpi: Bool
    ) throws {
        let outcome = try runRanks(
            2, mpi: mpi,
            [
                "bench", "allreduce", "--sizes", "5000", "--codecs", "zstd", "--warmup", "0", "--repetitions", "1",
                "--inject-fault", fault.0,
            ])
        #expect(outcome.status != 0)
        let errors = outcome.errorLines.filter { $0.hasPrefix("alexnet-dist: error: rank ") }
        #expect(!errors.isEmpty, "stderr: \(outcome.stderr)")
        #expect(errors.contains { $0.contains(fault.1) && $0.contains(fault.2) }, "stderr: \(outcome.stderr)")
    }
}
