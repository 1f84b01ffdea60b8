import Collectives
import Compute
import Datasets
import Foundation
import Testing

@testable import Training

/// Training on prepared shards: the decoding threads do not change the model, and the model file records
/// the shards' normalisation and class names.
@Suite(.serialized) struct ShardTrainingTests {
    /// 24 synthetic 256×256 JPEGs in 3 classes, train and val, written as `prepare` writes them.
    static func shards() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let encoder = try JPEGEncoder()
        var set = ShardSet(
            classes: ["a", "b", "c"], storage: .jpeg(quality: 90), size: 256, square: true,
            mean: [0.5, 0.45, 0.4], std: [0.25, 0.24, 0.26], eigenvalues: [0.2, 0.02, 0.005],
            eigenvectors: [[-0.57, 0.72, 0.4], [-0.58, 0, -0.81], [-0.58, -0.69, 0.42]])
        for (split, count) in [("train", 24), ("val", 6)] {
            let writer = ShardWriter(directory: dir, split: split, shardBytes: 200_000)
            for i in 0..<count {
                var pixels = [UInt8](repeating: 0, count: 256 * 256 * 3)
                for k in pixels.indices {
                    pixels[k] = UInt8(truncatingIfNeeded: (k / 3 % 256) * (i % 3 + 1) + k % 3 * 40 + i)
                }
                try writer.append(
                    try encoder.encode(RGBImage(width: 256, height: 256, pixels: pixels), quality: 90), label: i % 3,
                    width: 256, height: 256)
            }
            try writer.finishShard()
            set.splits[split] = writer.shards
        }
        try AtomicFile.write("\(dir)/meta.json", data: Array(try JSONEncoder().encode(set)))
        return dir
    }

    @Test func decodingThreadsDoNotChangeTheModel() throws {
        let dir = try Self.shards()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func train(threads: Int) throws -> [Float] {
            var c = ParallelTrainingConfiguration(training: recipe(batch: 2, steps: 1))
            c.training.model = .owt
            c.training.initialization = .paper
            let configuration = c
            let train = try ShardExamples(directory: dir, split: "train", crop: 224, threads: threads)
            let test = try ShardExamples(directory: dir, split: "val", crop: 224, threads: threads)
            #expect(train.normalization == Normalization(mean: [0.5, 0.45, 0.4], std: [0.25, 0.24, 0.26]))
            return try InProcessCommunicator.run(size: 2) { comm in
                ComputeEngine.threadCount = 1
                let trainer = try ParallelTrainer(
                    configuration: configuration, communicator: comm, train: train, test: test)
                _ = try trainer.run()
                #expect(trainer.loop.samplers.normalization == train.normalization)
                return trainer.arena.valueArray  // rank 0's part: conv layers and its FC shards
            }[0]
        }
        let one = try train(threads: 1), four = try train(threads: 4)
        let same = one == four
        #expect(same, "largest difference \(largestDifference(one, four))")
    }

    /// Ten-crop evaluation (softmax averaged over the ten windows) across 2 hybrid ranks gives one process's
    /// figures, and differs from the centre window's; a 3-class head (`withClasses`) trains on 3 classes.
    @Test func tenCropEvaluationAcrossRanksEqualsOneProcess() throws {
        let dir = try Self.shards()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = ParallelTrainingConfiguration(training: recipe(batch: 2, steps: 1))
        c.training.model = AlexNet.owt.withClasses(3)
        c.training.initialization = .paper
        let configuration = c
        let train = try ShardExamples(directory: dir, split: "train", crop: 224)
        let centre = try ShardExamples(directory: dir, split: "val", crop: 224)
        let ten = try ShardExamples(directory: dir, split: "val", crop: 224, threads: 2, tenCrop: true)
        #expect(ten.views == 10 && centre.views == 1)
        let results = try InProcessCommunicator.run(size: 2) { comm in
            ComputeEngine.threadCount = 1
            let trainer = try ParallelTrainer(
                configuration: configuration, communicator: comm, train: train, test: centre)
            _ = try trainer.run()
            let whole = try trainer.gatherModel()
            return (
                sharded: try trainer.evaluate(BatchSampler(source: ten, shuffle: false, seed: 1, prefetch: 1)),
                centre: try trainer.evaluate(BatchSampler(source: centre, shuffle: false, seed: 1)),
                whole: whole.valueArray
            )
        }
        let arena = configuration.training.model.makeArena()
        _ = arena.values.update(fromContentsOf: results[0].whole)
        ComputeEngine.threadCount = 1
        let evaluator = Evaluator(model: configuration.training.model, arena: arena, batchSize: 4)
        let alone = try evaluator.evaluate(BatchSampler(source: ten, shuffle: false, seed: 1, prefetch: 0))
        let sharded = results[0].sharded
        #expect(sharded.examples == 6 && alone.examples == 6)
        #expect(sharded.top1Error == alone.top1Error && sharded.top5Error == alone.top5Error)
        #expect(abs(sharded.meanLoss - alone.meanLoss) < 1e-5 * max(1, abs(alone.meanLoss)))
        #expect(results[1].sharded == sharded)
        #expect(results[0].centre.meanLoss != sharded.meanLoss)
    }
}
