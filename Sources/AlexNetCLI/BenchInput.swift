import ArgumentParser
import Benchmarks
import Compute
import Foundation
import Training

struct BenchInput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "input",
        abstract:
            "The loader's throughput: prepared shards decoded and augmented as training draws them, per thread count.")

    @Option(help: "A data set made by `alexnet-dist prepare`.") var shards: String
    @Option(help: "AlexNet variant whose input size is cropped: paper (227) or owt (224).")
    var variant: AlexNet.Variant = .paper
    @Option(help: "Thread counts to measure, comma-separated.") var threads: IntegerList = IntegerList(argument: "1,2")!
    @Option(help: "Images per batch.") var batchSize: Int = 128
    @Option(help: "Untimed batches first.") var warmup: Int = 1
    @Option(help: "Timed batches (the median is reported).") var batches: Int = 5
    @Option(help: "Write the figures as JSON to this file (atomically).") var json: String?

    func validate() throws {
        try validateTimedSteps(batchSize: batchSize, warmup: warmup, steps: batches)
        guard threads.values.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--threads must list counts of 1…256, got \(threads.defaultValueDescription)")
        }
    }

    func run() throws {
        let crop = AlexNet.named(variant.rawValue, groups: 1)!.inputShape[1]
        let results = try benchmarkInput(
            directory: shards, crop: crop, threads: threads.values, batchSize: batchSize, warmup: warmup,
            batches: batches)
        for r in results {
            print(
                String(
                    format:
                        "%d threads: %.0f images/s median of %d batches of %d (%.0f–%.0f), decode + %d×%d crop + flip + lighting; peak RSS %.0f MiB",
                    r.threads, r.median, r.imagesPerSecond.count, r.batchSize, r.imagesPerSecond.min()!,
                    r.imagesPerSecond.max()!, crop, crop, Double(r.peakResidentBytes) / 1_048_576))
        }
        if let json { try writeJSON(results, to: json) }
    }
}
