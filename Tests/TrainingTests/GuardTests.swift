import Collectives
import Compute
import Datasets
import Foundation
import Testing

@testable import Training

/// The guards every step runs (Notes [the non-finite guard], [stopping on a signal], [replica check]) and
/// the checkpoint series `--resume auto` reads.
@Suite(.serialized) struct GuardTests {
    static let data = syntheticImages(count: 192, seed: 11)

    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("guards-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `--lr 100` on 1 and 2 ranks: the run stops at the first non-finite weight, every rank alike, naming
    /// the step and the parameter; the checkpoints on disk hold finite values only (they load), and no
    /// checkpoint is written at or after the bad step.
    @Test(arguments: [1, 2]) func aNonFiniteWeightStopsTheRunBeforeAnythingIsWritten(_ ranks: Int) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let template = "\(dir)/ck.safetensors"
        #expect {
            _ = try trainInProcess(
                ranks: ranks,
                {
                    $0.training.learningRate = 100
                    $0.training.checkpointPath = template
                    $0.training.checkpointEvery = 1
                    $0.training.keepCheckpoints = 100
                }, batch: 16, steps: 40, data: Self.data)
        } throws: { error in
            guard let ended = error as? RunEnded else { return false }
            return ended.exitStatus == ExitStatus.diverged
                && "\(ended)".hasPrefix("training diverged at step ")
                && "\(ended)".contains("holds NaN or infinite values after the update")
        }
        let files = CheckpointSeries(template: template).existing()
        for file in files { _ = try Checkpoint.load(file.path, for: recipe(batch: 16, steps: 40)) }
        #expect(files.count < 40)
    }

    /// A stop request (a signal) makes every rank stop after the same step and checkpoint there; resuming
    /// from that checkpoint ends bit-identical to an uninterrupted run.
    @Test func aStopRequestCheckpointsAndResumingIsExact() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let template = "\(dir)/ck.safetensors"
        let uninterrupted = try trainInProcess(ranks: 2, { _ in }, batch: 16, steps: 5, data: Self.data).values
        var c = ParallelTrainingConfiguration(training: recipe(batch: 16, steps: 5))
        c.training.checkpointPath = template
        c.training.checkpointEvery = 1000
        let configuration = c
        let stop = StopRequest()
        stop.request("SIGTERM")
        let stopped = try InProcessCommunicator.run(size: 2) { comm in
            ComputeEngine.threadCount = 1  // as trainInProcess's ranks (oneDNN's sums depend on it)
            // Only rank 1 saw the signal: rank 0 stops too, after the same step.
            let trainer = try ParallelTrainer(
                configuration: configuration, communicator: comm, train: Self.data, test: Self.data.prefix(40),
                supervision: Supervision(stop: comm.rank == 1 ? stop : StopRequest()))
            return try trainer.run()
        }
        #expect(stopped.map(\.steps) == [1, 1])
        #expect(stopped[0].stopped == "a stop requested on another rank" && stopped[1].stopped == "SIGTERM")
        #expect(CheckpointSeries(template: template).existing().map(\.step) == [1])
        c.training.resume = .newest
        let resumedConfiguration = c
        let resumed = try InProcessCommunicator.run(size: 2) { comm in
            ComputeEngine.threadCount = 1
            let trainer = try ParallelTrainer(
                configuration: resumedConfiguration, communicator: comm, train: Self.data,
                test: Self.data.prefix(40))
            _ = try trainer.run()
            return try trainer.gatherModel().valueArray
        }[0]
        let same = resumed == uninterrupted  // (a failed == on millions of floats would be diffed for hours)
        #expect(same, "largest difference \(largestDifference(resumed, uninterrupted))")
    }

    /// One rank's replica nudged by one ulp is found at the next check, naming the rank and the parameter.
    @Test func aDivergedReplicaIsFoundNamingTheRank() throws {
        #expect {
            _ = try trainInProcess(
                ranks: 3,
                {
                    $0.replicaCheckEvery = 2
                    $0.faults.replicaDivergence = (rank: 1, step: 3)
                }, batch: 8, steps: 6, data: Self.data)
        } throws: { error in
            "\(error)"
                == "replicas differ after step 4: conv1.weight (weights) on rank 1 differs from ranks 0, 2; nothing was written at this step"
                && (error as? RunEnded)?.exitStatus == ExitStatus.replicasDiffer
        }
    }

    /// Under FC groups each shard is compared across the ranks holding it (4 ranks in groups of 2: shard 1 on
    /// ranks 1 and 3), gathered over the world so that every rank ends the run with the same message; at a
    /// tie the lower rank's copy is taken as the majority.
    @Test func aDivergedShardIsFoundByEveryRank() throws {
        #expect {
            _ = try trainInProcess(
                ranks: 4,
                {
                    $0.replicaCheckEvery = 2
                    $0.fullyConnectedGroupSize = 2
                    $0.faults.shardDivergence = (rank: 3, step: 3)
                }, batch: 8, steps: 6, data: Self.data)
        } throws: { error in
            "\(error)"
                == "replicas differ after step 4: fc6.weight (weights) on rank 3 differs from rank 1; nothing was written at this step"
                && (error as? RunEnded)?.exitStatus == ExitStatus.replicasDiffer
        }
    }

    /// `--resume auto` takes the newest checkpoint that loads: a damaged newest is skipped with a warning;
    /// with none, the run starts from the beginning and says so.
    @Test func resumeAutoFallsBackPastADamagedNewest() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let template = "\(dir)/ck.safetensors"
        var c = recipe(batch: 16, steps: 4)
        c.checkpointPath = template
        c.checkpointEvery = 2
        c.resume = .newest
        var lines: [String] = []  // a one-rank trainer reports on the calling thread
        _ = try oneRankTrainer(c, train: Self.data, test: Self.data.prefix(40)) { lines.append($0) }
        #expect(
            lines.contains { $0.hasPrefix("--resume auto: no checkpoint") && $0.contains("ck-step<N>.safetensors") }
        )
        c.resume = nil
        _ = try oneRankTrainer(c, train: Self.data, test: Self.data.prefix(40)).run()
        let series = CheckpointSeries(template: template)
        #expect(series.existing().map(\.step) == [4, 2])
        let newest = series.path(step: 4)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))
        c.resume = .newest
        c.maxSteps = 6
        var warnings: [String] = []
        let trainer = try oneRankTrainer(c, train: Self.data, test: Self.data.prefix(40)) { warnings.append($0) }
        #expect(trainer.start.step == 2)
        #expect(warnings.contains { $0.hasPrefix("warning: skipping checkpoint \(newest): ") })
    }

    /// A position outside the data or the schedule is an error naming the field.
    @Test func aPositionOutsideTheDataOrScheduleIsRefused() throws {
        let trainer = try oneRankTrainer(recipe(batch: 16, steps: 4), train: Self.data, test: Self.data.prefix(40))
        var position = TrainingPosition()
        position.exampleInEpoch = 1_000_000
        #expect {
            try trainer.loop.check(position, of: "ck.safetensors")
        } throws: {
            "\($0)"
                == "ck.safetensors: training position exampleInEpoch is 1000000, expected 0…192 (the examples of the training set)"
        }
        position = TrainingPosition()
        position.scheduler.decays = 99
        #expect {
            try trainer.loop.check(position, of: "ck.safetensors")
        } throws: { "\($0)".contains("scheduler.decays is 99, expected 0…0 under this --schedule") }
        position = TrainingPosition()
        position.epoch = 1000
        #expect(trainer.loop.nothingToDo(from: position)?.contains("epoch 1000") == true)
        // Positions near 2⁶³ are refused, not trapped on.
        for step in [Int.max - 3, 100] {
            position = TrainingPosition()
            position.step = step
            #expect {
                try trainer.loop.check(position, of: "ck.safetensors")
            } throws: { "\($0)".contains("training position step is \(step), expected at most the examples seen") }
        }
        position = TrainingPosition()
        position.epoch = Int.max / 2
        #expect {
            try trainer.loop.check(position, of: "ck.safetensors")
        } throws: { "\($0)".contains("training position epoch is \(Int.max / 2), expected at most") }
    }
}
