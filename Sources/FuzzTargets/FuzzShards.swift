import Compute
import Datasets
import Foundation

/// A prepared set of one training shard: meta.json, train-00000.index and train-00000.data from the input's
/// three parts; opened as training opens it and every example filled (decoded, cropped, lit, flipped) for
/// training and for evaluation.
func fuzzShards(_ bytes: UnsafeRawBufferPointer) {
    let files = parts(bytes, 3)
    let directory = "\(scratch)/shards"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, part) in zip(["meta.json", "train-00000.index", "train-00000.data"], files) {
        FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data(part))
    }
    guard let examples = try? ShardExamples(directory: directory, split: "train", crop: 8) else { return }
    let count = min(examples.count, 4)
    guard count > 0 else { return }
    let perExample = examples.exampleShape.reduce(1, *)
    var images = [Float](repeating: 0, count: count * perExample)
    var labels = [Int32](repeating: 0, count: count)
    for use in [ExampleUse.training, .evaluation(view: 0)] {
        images.withUnsafeMutableBufferPointer { images in
            labels.withUnsafeMutableBufferPointer { labels in
                _ = try? examples.fill(0..<count, epoch: 0, use: use, seed: 1, images: images, labels: labels)
            }
        }
    }
}
