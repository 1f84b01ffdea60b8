import Foundation
import Testing

/// `train` across ranks: under mpirun and with --simulate, with the same flags.
@Suite(.serialized) struct TrainParallelTests {
    static let mpiEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// A short run's flags; the model and metrics go under `directory`.
    static func flags(_ directory: String) -> [String] {
        [
            "--max-steps", "3", "--log-every", "1", "--train-limit", "600", "--test-limit", "100",
            "--batch-size", "16", "--threads", "1", "--metrics", "\(directory)/metrics.jsonl", "--output",
            "\(directory)/model.safetensors", "--checkpoint", "\(directory)/checkpoint.safetensors",
        ]
    }

    /// Trains and returns (exit status, per-step losses as printed in the metrics, model file bytes).
    static func train(mpiRanks: Int?, _ arguments: [String]) throws -> (Int32, [String], Data) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("train-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let all = ["train"] + flags(directory) + arguments
        let outcome =
            try mpiRanks.map {
                try runProcess(
                    mpirun!,
                    ["-n", "\($0)", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", tool] + all,
                    environment: mpiEnvironment)
            } ?? runTool(all)
        let metrics = (try? String(contentsOfFile: "\(directory)/metrics.jsonl", encoding: .utf8)) ?? ""
        let losses = metrics.split(separator: "\n").filter { $0.contains("\"event\":\"step\"") }.map { line in
            String(line.split(separator: ",").first { $0.contains("\"loss\"") } ?? "")
        }
        let model = (try? Data(contentsOf: URL(fileURLWithPath: "\(directory)/model.safetensors"))) ?? Data()
        return (outcome.status, losses, model)
    }

    /// `mpirun -n 4 alexnet-dist train …` and `alexnet-dist train --simulate 4 …` give bit-identical per-step
    /// losses and final weights, for each scheme, with the conv gradients sent plain or through zstd.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)),
        arguments: ["a", "b", "c"], ["none", "zstd"])
    func mpirunAndSimulationTrainBitIdentically(_ scheme: String, _ codec: String) throws {
        try Self.expectMpirunEqualsSimulation(ranks: 4, ["--scheme", scheme, "--codec", codec])
    }

    /// `mpirun -n K` and `--simulate K` with `arguments`: both succeed with the same per-step losses and model.
    static func expectMpirunEqualsSimulation(
        ranks: Int, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let simulated = try train(mpiRanks: nil, ["--simulate", "\(ranks)"] + arguments)
        let mpi = try train(mpiRanks: ranks, arguments)
        #expect(simulated.0 == 0 && mpi.0 == 0, sourceLocation: sourceLocation)
        #expect(simulated.1.count == 3, "losses: \(simulated.1)", sourceLocation: sourceLocation)
        #expect(mpi.1 == simulated.1, sourceLocation: sourceLocation)
        #expect(!mpi.2.isEmpty && mpi.2 == simulated.2, "model files differ", sourceLocation: sourceLocation)
    }

    /// FC layers sharded within groups of 2 of the 4 ranks (Note [one resolved plan]): mpirun and --simulate
    /// give the same bits, plain and with zstd on both gradient allreduces.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)),
        arguments: ["none", "zstd"])
    func groupedLayoutMpirunAndSimulationTrainBitIdentically(_ codec: String) throws {
        try Self.expectMpirunEqualsSimulation(ranks: 4, ["--fc-group-size", "2", "--codec", codec])
    }

    /// The data-parallel baseline too.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func dataParallelMpirunAndSimulationAgree() throws {
        try Self.expectMpirunEqualsSimulation(ranks: 2, ["--parallel", "data"])
    }

    /// One rank under mpirun is a mistake (nothing to share), said clearly.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"), .timeLimit(.minutes(10)))
    func oneRankUnderMpirunIsRefused() throws {
        let outcome = try runProcess(
            mpirun!, ["-n", "1", tool, "train", "--max-steps", "1"], environment: Self.mpiEnvironment)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("alexnet-dist: error: mpirun started 1 rank"), "\(outcome.stderr)")
    }

    /// More ranks than fc8 has outputs cannot shard it; the message names the layer and the limit.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func moreRanksThanClassesIsRefused() throws {
        try expectOneLineError(
            ["train", "--simulate", "11", "--max-steps", "1", "--train-limit", "2000"],
            mentioning: "11 ranks cannot share fc8's 10 outputs")
    }
}
