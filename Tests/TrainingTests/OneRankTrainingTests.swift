import Compute
import Datasets
import Foundation
import Testing

@testable import Training

let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNIST.defaultDirectory + "/train-images-idx3-ubyte.gz")

/// The trainer on one rank: what plain `alexnet-dist train` runs.
@Suite(.serialized) struct OneRankTrainingTests {
    /// Learning works end to end: a few hundred steps on a slice of the real Fashion-MNIST.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func trainsSmallFarAboveChanceOnRealFashionMNIST() throws {
        let train = try FashionMNIST.load(split: .train).prefix(3_000)
        let test = try FashionMNIST.load(split: .test).prefix(1_000)
        var c = TrainingConfiguration(model: .small)
        c.batchSize = 50
        c.epochs = 2
        c.logEvery = 1_000
        c.augmentation = .none
        let result = try oneRankTrainer(c, train: train, test: test).run()
        #expect(result.steps == 120)
        // Chance is 10%; two passes over 3,000 images reach about 73% here.
        #expect(result.test.top1Accuracy > 0.6, "top-1 accuracy \(result.test.top1Accuracy)")
        #expect(result.test.top5Error < 0.1)
    }

    /// The same configuration and seed give bit-identical weights, and the run did train: the weights
    /// moved from their initial values and the loss fell.
    @Test func trainingIsDeterministic() throws {
        let data = syntheticImages(count: 32, seed: 1)
        func run() throws -> (weights: [Float], losses: [Double]) {
            let metrics = NSTemporaryDirectory() + "alexnet-dist-deterministic-" + UUID().uuidString + ".jsonl"
            defer { try? FileManager.default.removeItem(atPath: metrics) }
            var c = TrainingConfiguration(model: .small)
            c.batchSize = 16
            c.epochs = 6
            c.logEvery = 1
            c.metricsPath = metrics
            c.augmentation = Augmentation(cropPadding: 2, horizontalFlip: true)
            let trainer = try oneRankTrainer(c, train: data, test: data)
            _ = try trainer.run()
            let records = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            return (
                trainer.arena.valueArray,
                records.compactMap { $0["event"] as? String == "step" ? $0["loss"] as? Double : nil }
            )
        }
        let first = try run(), second = try run()
        #expect(first.weights == second.weights)
        #expect(first.losses == second.losses)
        let initial = AlexNet.small.makeArena()
        Initialization.he.apply(to: initial, model: .small, seed: 1)
        #expect(largestDifference(first.weights, initial.valueArray) > 1e-3, "the steps must move the weights")
        #expect(first.losses.count == 12)
        let early = first.losses.prefix(3).reduce(0, +), late = first.losses.suffix(3).reduce(0, +)
        #expect(late < 0.8 * early, "the loss must fall: \(first.losses)")
    }

    @Test func rejectsImagesOfTheWrongShapeForTheVariant() {
        let data = syntheticImages(count: 8, seed: 2)
        let error = #expect(throws: TrainingError.self) {
            try oneRankTrainer(TrainingConfiguration(model: .owt), train: data, test: data)
        }
        #expect(error?.description == "synthetic: images are 1×28×28; variant owt expects 3×224×224")
    }

    @Test func rejectsCropPaddingAsLargeAsTheImage() {
        let data = syntheticImages(count: 8, seed: 2)
        var c = TrainingConfiguration(model: .small)
        c.augmentation = Augmentation(cropPadding: 28, horizontalFlip: false)
        let error = #expect(throws: TrainingError.self) { try oneRankTrainer(c, train: data, test: data) }
        #expect(error?.description == "crop padding 28 must be below the image size 28")
    }

    @Test func writesMetricsAndTheModel() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-trainer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = syntheticImages(count: 64, seed: 3)
        var c = TrainingConfiguration(model: .small)
        c.batchSize = 16
        c.epochs = 2
        c.logEvery = 2
        c.metricsPath = dir + "/metrics.jsonl"
        c.outputPath = dir + "/model.safetensors"
        let trainer = try oneRankTrainer(c, train: data, test: data)
        _ = try trainer.run()
        let lines = try String(contentsOfFile: c.metricsPath!, encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(records.filter { $0["event"] as? String == "step" }.count == 4)
        // The resolved layout, once, first: one process is one rank of data parallelism, no codec.
        #expect(records.first?["event"] as? String == "plan")
        let plan = records.filter { $0["event"] as? String == "plan" }
        #expect(plan.count == 1)
        #expect(plan.first?["ranks"] as? Int == 1 && plan.first?["fc_group_size"] as? Int == 1)
        #expect(plan.first?["parallelism"] as? String == "data" && plan.first?["codec"] as? String == "none")
        #expect(plan.first?["planned_bytes_per_step"] as? Int == 0 && plan.first?["scheme"] == nil)
        let evaluations = records.filter { $0["event"] as? String == "evaluation" }
        #expect(evaluations.count == 2)
        #expect(evaluations.allSatisfy { $0["top1_error"] is Double && $0["top5_error"] is Double })
        let loaded = try ModelFile.load(c.outputPath!, expectedVariant: "small")
        #expect(Array(loaded.arena.values) == Array(trainer.arena.values))
    }
}
