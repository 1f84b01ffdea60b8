import Foundation
import Testing

@testable import Datasets

/// Shards as examples: the same floats on 1 and 3 decoding threads, slices that draw what the whole draws,
/// the centre window when not training, and a damaged record named.
@Suite struct ShardExamplesTests {
    static func prepared() throws -> (root: String, out: String) {
        let root = try PreparerTests.tree()
        let out = root + "-shards"
        var options = Preparer.Options()
        options.shardBytes = 100_000
        _ = try Preparer(source: try ImageSource(root: root), destination: out, options: options).run { _ in }
        return (root, out)
    }

    static func fill(
        _ source: any ExampleSource, _ indices: [Int], epoch: Int, training: Bool
    ) throws -> ([Float], [Int32]) {
        var images = [Float](repeating: .nan, count: indices.count * source.exampleShape.reduce(1, *))
        var labels = [Int32](repeating: -1, count: indices.count)
        try images.withUnsafeMutableBufferPointer { i in
            try labels.withUnsafeMutableBufferPointer { l in
                try source.fill(
                    indices, epoch: epoch, use: training ? .training : .centre, seed: 3, images: i, labels: l)
            }
        }
        return (images, labels)
    }

    @Test func theSameExamplesWhateverTheThreadsAndSlices() throws {
        let (root, out) = try Self.prepared()
        defer { for dir in [root, out] { try? FileManager.default.removeItem(atPath: dir) } }
        let one = try ShardExamples(directory: out, split: "train", crop: 227, threads: 1)
        let three = try ShardExamples(directory: out, split: "train", crop: 227, threads: 3)
        #expect(one.count == 18 && one.classes == 4 && one.exampleShape == [3, 227, 227])
        let indices = [17, 0, 5, 9, 12]
        for training in [true, false] {
            let a = try Self.fill(one, indices, epoch: 2, training: training)
            let b = try Self.fill(three, indices, epoch: 2, training: training)
            #expect(a.0 == b.0 && a.1 == b.1)
            #expect(!a.0.contains { $0.isNaN })
            // A slice's example 0 is the whole set's example 5, pixels and all.
            let slice = try Self.fill(one.slice(5..<10), [0], epoch: 2, training: training)
            let whole = try Self.fill(one, [5], epoch: 2, training: training)
            #expect(slice.0 == whole.0 && slice.1 == whole.1)
        }
        #expect(try Self.fill(one, indices, epoch: 0, training: false).1 == [2, 0, 0, 1, 2])
        // Training draws change with the epoch; evaluation does not.
        #expect(try Self.fill(one, [4], epoch: 0, training: true).0 != Self.fill(one, [4], epoch: 1, training: true).0)
        #expect(
            try Self.fill(one, [4], epoch: 0, training: false).0 == Self.fill(one, [4], epoch: 1, training: false).0)
    }

    @Test func aDamagedRecordIsNamed() throws {
        let (root, out) = try Self.prepared()
        defer { for dir in [root, out] { try? FileManager.default.removeItem(atPath: dir) } }
        let data = "\(out)/train-00000.data"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        for i in 100..<400 { bytes[i] = 0 }  // inside record 0's entropy-coded data
        try bytes.write(to: URL(fileURLWithPath: data))
        let examples = try ShardExamples(directory: out, split: "train", crop: 227)
        #expect { try Self.fill(examples, [0], epoch: 0, training: false) } throws: {
            "\($0)".hasPrefix("\(data) record 0: ")
        }
        #expect { try ShardExamples(directory: out, split: "val", crop: 227) } throws: {
            "\($0)" == "\(out)/meta.json: no split 'val' (it has train)"
        }
    }
}
