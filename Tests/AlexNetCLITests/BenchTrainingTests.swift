import Foundation
import Testing

/// `bench training`: real steps under mpirun, the measured bytes beside the plan's.
@Suite struct BenchTrainingTests {
    /// Under mpirun (MPI collectives, overlapped on transfer threads), hybrid and the data baseline: every
    /// rank's measured fp32 bytes equal the plan's, channel by channel, and the comparison is printed.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"), .timeLimit(.minutes(10)))
    func mpirunMeasuresThePlansBytes() throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let outcome = try runProcess(
            mpirun!,
            [
                "-n", "3", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", tool, "bench", "training",
                "--batch-size", "6", "--warmup", "0", "--steps", "1", "--threads", "1", "--json", json,
            ], environment: TrainParallelTests.mpiEnvironment)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("small hybrid scheme (b), 3 ranks × 6 images"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("rank 0 sends"), "\(outcome.stdout)")
        let results =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [[String: Any]]
        #expect(results.map { $0["parallelism"] as? String } == ["hybrid", "data"])
        for result in results {
            let traffic = result["traffic"] as! [[String: Any]]
            #expect(traffic.count == 3)
            for rank in traffic {
                let planned = rank["planned_bytes"] as! [String: Int]
                let fp32 = rank["fp32_bytes"] as! [String: Double]
                for (channel, bytes) in planned { #expect(fp32[channel] == Double(bytes), "\(channel): \(rank)") }
            }
        }
    }
}
