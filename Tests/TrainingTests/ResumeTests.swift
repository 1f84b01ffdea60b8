import Collectives
import Compute
import Datasets
import Foundation
import Testing
import Training

@testable import Training

@Suite(.serialized) struct ResumeTests {
    static let data = syntheticImages(count: 192, seed: 11)

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)-\(name)").path
    }

    /// The file of the checkpoint at `step` of the series `template` names.
    static func file(_ template: String, step: Int) -> String {
        CheckpointSeries(template: template).path(step: step)
    }

    /// K ranks: steps up to `steps` (from the file `resume` when given), writing checkpoints of the series
    /// `checkpoint` names.
    static func run(
        ranks: Int, steps: Int, batch: Int = 16, checkpoint: String? = nil, resume: String? = nil,
        codec: Codec = .none, groupSize: Int? = nil
    ) throws -> [Float] {
        try trainInProcess(
            ranks: ranks,
            {
                $0.training.checkpointPath = checkpoint
                $0.training.resume = resume.map { .file($0) }
                $0.codec = codec
                $0.fullyConnectedGroupSize = groupSize
            }, batch: batch, steps: steps, data: data
        ).values
    }

    /// Training N steps, checkpointing, and resuming for N more gives the weights of 2N uninterrupted steps,
    /// bit for bit (here across an epoch boundary: 6 steps per epoch of 2 × 16).
    @Test func resumingContinuesExactly() throws {
        let checkpoint = Self.temporaryPath("checkpoint.safetensors")
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        let uninterrupted = try Self.run(ranks: 2, steps: 8)
        let firstHalf = try Self.run(ranks: 2, steps: 4, checkpoint: checkpoint)
        #expect(firstHalf != uninterrupted)
        let resumed = try Self.run(ranks: 2, steps: 8, resume: Self.file(checkpoint, step: 4))
        #expect(resumed == uninterrupted)
    }

    /// With top-k's error feedback, each rank's residuals are checkpointed too, so resuming is still exact;
    /// on another number of ranks their sum goes to rank 0. The file still reads as a model.
    @Test func topKResidualsAreCheckpointedSoResumingIsExact() throws {
        let template = Self.temporaryPath("checkpoint.safetensors")
        let checkpoint = Self.file(template, step: 4)
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        let topk = try Codec(parsing: "topk:0.05")
        let uninterrupted = try Self.run(ranks: 2, steps: 8, codec: topk)
        _ = try Self.run(ranks: 2, steps: 4, checkpoint: template, codec: topk)
        let file = try SafeTensors.File(path: checkpoint)
        #expect(file.metadata["topk_residual_ranks"] == "2")
        var residual = [Float](repeating: 0, count: file.shapes["topk_residual.r1.conv2.weight"]!.reduce(1, *))
        try residual.withUnsafeMutableBufferPointer { try file.read("topk_residual.r1.conv2.weight", into: $0) }
        #expect(residual.contains { $0 != 0 }, "rank 1 carries gradient mass not yet sent")
        #expect(file.shapes["topk_residual.r0.fc6.weight"] == nil, "FC layers are sharded, not allreduced")
        _ = try ModelFile.load(checkpoint)
        #expect(try Self.run(ranks: 2, steps: 8, resume: checkpoint, codec: topk) == uninterrupted)
        // On 3 ranks, rank 0 carries the two ranks' residuals summed in rank order and the others none: the
        // resumed trainers write them back as they found them.
        let resharded = Self.temporaryPath("resharded.safetensors")
        defer { try? FileManager.default.removeItem(atPath: resharded) }
        var c = ParallelTrainingConfiguration(training: recipe(batch: 16, steps: 4))
        c.codec = topk
        c.training.resume = .file(checkpoint)
        let configuration = c
        _ = try InProcessCommunicator.run(size: 3) { comm in
            let trainer = try ParallelTrainer(
                configuration: configuration, communicator: comm, train: Self.data, test: Self.data.prefix(40))
            try trainer.saveCheckpoint(resharded, position: trainer.start)
        }
        let again = try SafeTensors.File(path: resharded)
        #expect(again.metadata["topk_residual_ranks"] == "3")
        for name in ["conv1.weight", "conv2.weight", "conv5.bias"] {
            func read(_ file: SafeTensors.File, _ rank: Int) throws -> [Float] {
                let tensor = Checkpoint.residualName(rank: rank, parameter: name)
                var values = [Float](repeating: .nan, count: file.shapes[tensor]!.reduce(1, *))
                try values.withUnsafeMutableBufferPointer { try file.read(tensor, into: $0) }
                return values
            }
            let sum = zip(try read(file, 0), try read(file, 1)).map { $0 + $1 }
            #expect(try read(again, 0) == sum, "\(name)")
            #expect(try read(again, 1).allSatisfy { $0 == 0 } && read(again, 2).allSatisfy { $0 == 0 }, "\(name)")
        }
    }

    /// Under FC groups (4 ranks in groups of 2) resuming is exact, top-k's residuals included: each rank's
    /// residuals of its FC shard are checkpointed (its rows only, the layout in the metadata). The checkpoint
    /// (the whole model, momentum included) loads under any other layout: in one process; and under 8 ranks in
    /// groups of 4, then one group of 4 ranks, where the residual mass of every element is kept whole where
    /// the new run allreduces it, and dropped, said so, where it does not.
    @Test func groupedTopKResidualsResumeExactlyAndReshardWhole() throws {
        let template = Self.temporaryPath("checkpoint.safetensors")
        let checkpoint = Self.file(template, step: 3)
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        let topk = try Codec(parsing: "topk:0.05")
        let uninterrupted = try Self.run(ranks: 4, steps: 6, batch: 8, codec: topk, groupSize: 2)
        let firstHalf = try Self.run(ranks: 4, steps: 3, batch: 8, checkpoint: template, codec: topk, groupSize: 2)
        #expect(try ModelFile.load(checkpoint).arena.valueArray == firstHalf)
        let file = try SafeTensors.File(path: checkpoint)
        #expect(file.metadata["topk_residual_ranks"] == "4" && file.metadata["fc_group_size"] == "2")
        // small's fc8 has 10 outputs: rows 0..<5 at position 0 (ranks 0 and 2), 5..<10 at position 1.
        #expect(file.shapes["topk_residual.r3.fc8.weight"] == [5, 1024])
        #expect(file.shapes["topk_residual.r2.fc6.bias"] == [512])
        #expect(
            try Self.run(ranks: 4, steps: 6, batch: 8, resume: checkpoint, codec: topk, groupSize: 2) == uninterrupted)
        #expect(try Self.run(ranks: 1, steps: 6, batch: 32, resume: checkpoint) != firstHalf)

        /// Every parameter's residuals summed over the ranks of `path`, in whole-model coordinates.
        func wholeSums(_ path: String) throws -> [String: [Float]] {
            let loaded = try Checkpoint.load(path, for: recipe(batch: 8, steps: 3))
            var sums: [String: [Float]] = [:]
            for view in loaded.model.arena.views where loaded.residualParameters.contains(view.name) {
                var sum = [Float](repeating: 0, count: view.count)
                let width = view.shape.dropFirst().reduce(1, *)
                for q in 0..<loaded.residualRanks {
                    let part = try loaded.readResidual(rank: q, view: view)
                    for (j, value) in part.values.enumerated() { sum[part.rows.lowerBound * width + j] += value }
                }
                sums[view.name] = sum
            }
            return sums
        }
        func reshard(ranks: Int, groupSize: Int) throws -> (path: String, messages: [String]) {
            let path = Self.temporaryPath("resharded.safetensors")
            var c = ParallelTrainingConfiguration(training: recipe(batch: 8, steps: 3))
            c.codec = topk
            c.fullyConnectedGroupSize = groupSize
            c.training.resume = .file(checkpoint)
            let configuration = c
            final class Lines: @unchecked Sendable {
                let lock = NSLock()
                var lines: [String] = []
            }
            let messages = Lines()
            _ = try InProcessCommunicator.run(size: ranks) { comm in
                let trainer = try ParallelTrainer(
                    configuration: configuration, communicator: comm, train: Self.data, test: Self.data.prefix(40),
                    progress: { line in messages.lock.withLock { messages.lines.append(line) } })
                try trainer.saveCheckpoint(path, position: trainer.start)
            }
            return (path, messages.lock.withLock { messages.lines })
        }
        let before = try wholeSums(checkpoint)
        #expect(before.keys.contains("fc7.weight") && before.keys.contains("conv1.weight"))
        let wider = try reshard(ranks: 8, groupSize: 4)
        defer { try? FileManager.default.removeItem(atPath: wider.path) }
        #expect(try SafeTensors.File(path: wider.path).metadata["fc_group_size"] == "4")
        #expect(try wholeSums(wider.path) == before)
        let oneGroup = try reshard(ranks: 4, groupSize: 4)
        defer { try? FileManager.default.removeItem(atPath: oneGroup.path) }
        let after = try wholeSums(oneGroup.path)
        #expect(Set(after.keys) == Set(before.keys.filter { $0.hasPrefix("conv") }))
        for (name, sum) in after { #expect(sum == before[name], "\(name)") }
        #expect(
            oneGroup.messages.contains {
                $0.contains("top-k residuals of fc6.bias, fc6.weight") && $0.contains("dropped")
            })
    }

    /// A checkpoint whose residuals do not cover the ranks its metadata names is refused on load (which
    /// every rank does), naming the file and the rank, rather than leaving some ranks waiting.
    @Test func aCheckpointWithMissingResidualsIsRefused() throws {
        let template = Self.temporaryPath("checkpoint.safetensors")
        let checkpoint = Self.file(template, step: 1)
        let damaged = Self.temporaryPath("damaged.safetensors")
        defer { for path in [checkpoint, damaged] { try? FileManager.default.removeItem(atPath: path) } }
        _ = try Self.run(ranks: 2, steps: 1, checkpoint: template, codec: try Codec(parsing: "topk"))
        let file = try SafeTensors.File(path: checkpoint)
        let buffers = try file.shapes.sorted { $0.key < $1.key }.map { name, shape in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: shape.reduce(1, *))
            try file.read(name, into: buffer)
            return (name, shape, buffer)
        }
        defer { for (_, _, buffer) in buffers { buffer.deallocate() } }
        var metadata = file.metadata
        metadata["topk_residual_ranks"] = "3"
        try SafeTensors.write(
            damaged, entries: buffers.map { SafeTensors.Entry(name: $0, shape: $1, values: UnsafeBufferPointer($2)) },
            metadata: metadata)
        #expect {
            try Checkpoint.load(damaged, for: recipe(batch: 16, steps: 2))
        } throws: {
            "\($0)".contains(damaged) && "\($0)".contains("rank 2's top-k residuals cover 0 parameters")
        }
    }

    /// A checkpoint written by 4 ranks holds the whole model: resumed on 2 ranks, or in one process, the run
    /// starts from exactly those weights (re-sharded), and goes on training.
    @Test func aFourRankCheckpointResumesOnTwoRanksAndOnOne() throws {
        let template = Self.temporaryPath("checkpoint.safetensors")
        let checkpoint = Self.file(template, step: 3)
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        let written = try Self.run(ranks: 4, steps: 3, batch: 8, checkpoint: template)
        let saved = try ModelFile.load(checkpoint).arena.valueArray
        #expect(saved == written)
        // No steps left (--max-steps counts from the start of the run): nothing to do, said so.
        #expect {
            try Self.run(ranks: 2, steps: 3, batch: 8, resume: checkpoint)
        } throws: {
            "\($0)" == "nothing to do: the checkpoint is at step 3, and --max-steps 3 counts from the start of the run"
        }
        let further = try Self.run(ranks: 2, steps: 5, batch: 8, resume: checkpoint)
        #expect(further != written)

        // Resumed on one rank, the run starts from exactly those weights.
        var c = recipe(batch: 8, steps: 3)
        c.resume = .file(checkpoint)
        let single = try oneRankTrainer(c, train: Self.data, test: Self.data.prefix(40))
        #expect(single.arena.valueArray == written)
    }

    /// A checkpoint of another variant, or trained with another seed, is refused, naming the file.
    @Test func aCheckpointOfAnotherVariantOrSeedIsRefused() throws {
        let template = Self.temporaryPath("checkpoint.safetensors")
        let checkpoint = Self.file(template, step: 1)
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        _ = try Self.run(ranks: 2, steps: 1, checkpoint: template)
        var paper = TrainingConfiguration(model: .paper())
        paper.resume = .file(checkpoint)
        #expect {
            try Checkpoint.load(checkpoint, for: paper)
        } throws: { "\($0)".contains(checkpoint) && "\($0)".contains("holds variant 'small', expected 'paper'") }
        var otherSeed = recipe(batch: 16, steps: 2)
        otherSeed.seed = 99
        #expect {
            try Checkpoint.load(checkpoint, for: otherSeed)
        } throws: { "\($0)".contains("--seed 1; resume with the same seed (got 99)") }
    }

    /// `--resume auto` stops on a sound checkpoint of another configuration (here another head size, as a
    /// changed `--classes` default would give) instead of starting afresh; a damaged one is still skipped.
    @Test func resumeAutoStopsOnACheckpointOfAnotherRun() throws {
        let template = Self.temporaryPath("checkpoint.safetensors")
        let checkpoint = Self.file(template, step: 1)
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        _ = try Self.run(ranks: 1, steps: 1, checkpoint: template)
        var other = recipe(batch: 16, steps: 2)
        other.model = AlexNet.small.withClasses(12)
        other.checkpointPath = template
        other.resume = .newest
        var said: [String] = []
        #expect {
            try ParallelTrainer.findCheckpoint(other, progress: { said.append($0) })
        } throws: { "\($0)".contains("10 classes, the run's 12 (--classes 10 continues it)") }
        #expect(said.isEmpty)
        var same = recipe(batch: 16, steps: 2)
        same.checkpointPath = template
        same.resume = .newest
        #expect(try ParallelTrainer.findCheckpoint(same, progress: { _ in })?.path == checkpoint)
    }
}
