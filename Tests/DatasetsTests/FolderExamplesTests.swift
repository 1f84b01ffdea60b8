import Foundation
import Testing

@testable import Datasets

/// Class folders read directly: the same pixels as `prepare --raw` of the same folders, whatever the
/// thread count; a test folder labelled with the training classes; bad files and folders named.
@Suite struct FolderExamplesTests {
    static func fill(_ source: any ExampleSource, _ indices: [Int], use: ExampleUse) throws -> ([Float], [Int32]) {
        var images = [Float](repeating: .nan, count: indices.count * source.exampleShape.reduce(1, *))
        var labels = [Int32](repeating: -1, count: indices.count)
        try images.withUnsafeMutableBufferPointer { i in
            try labels.withUnsafeMutableBufferPointer { l in
                try source.fill(indices, epoch: 2, use: use, seed: 5, images: i, labels: l)
            }
        }
        return (images, labels)
    }

    @Test func drawsWhatPreparedRawShardsDraw() throws {
        let root = try PreparerTests.tree()
        let out = root + "-raw"
        defer {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: out)
        }
        try FileManager.default.removeItem(atPath: "\(root)/class1/corrupt.jpg")  // prepare would skip it
        var options = Preparer.Options()
        options.quality = nil
        _ = try Preparer(source: try ImageSource(root: root), destination: out, options: options).run { _ in }
        let folder = try FolderExamples(root: root, crop: 224, threads: 3, tenCrop: true)
        #expect(folder.classNames == ["class0", "class1", "class2", "empty"])
        #expect(folder.notes.contains { $0.contains("empty: an empty class folder") })
        let shards = try ShardExamples(
            directory: out, split: "train", crop: 224, tenCrop: true, normalization: ImageNetStatistics.normalization)
        // The lighting differs (ImageNet's eigenvectors vs the set's own): compare without it.
        let unlit = try FolderExamples(root: root, crop: 224, lighting: 0, threads: 2)
        let unlitShards = try ShardExamples(
            directory: out, split: "train", crop: 224, lighting: 0, normalization: ImageNetStatistics.normalization)
        #expect(folder.count == 18 && shards.count == 18)
        let all = Array(0..<18)
        #expect(
            try Self.fill(folder, all, use: .evaluation(view: 3)) == Self.fill(shards, all, use: .evaluation(view: 3)))
        #expect(try Self.fill(unlit, all, use: .training) == Self.fill(unlitShards, all, use: .training))
        // A slice draws what the whole draws.
        #expect(try Self.fill(unlit.slice(4..<9), [1], use: .training) == Self.fill(unlit, [5], use: .training))
    }

    @Test func labelsATestFolderWithTheTrainingClasses() throws {
        let root = try PreparerTests.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.removeItem(atPath: "\(root)/class1/corrupt.jpg")
        let test = try FolderExamples(
            root: root, crop: 224, classNames: ["ant", "class0", "class1", "class2", "empty"], limitPerClass: 2)
        #expect(test.count == 6 && test.classes == 5)
        #expect(try Self.fill(test, Array(0..<6), use: .centre).1 == [1, 1, 2, 2, 3, 3])
        #expect(throws: DatasetError("\(root)/class2", "class 'class2' is not among the 2 training classes")) {
            try FolderExamples(root: root, crop: 224, classNames: ["class0", "class1"])
        }
    }

    @Test func namesABadImageAndAMissingRoot() throws {
        let root = try PreparerTests.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try FolderExamples(root: root, crop: 224)
        // class1's files sorted: 0.jpg … 5.PNG, then corrupt.jpg (the 7th of class1: example 12).
        #expect { try Self.fill(folder, [11, 12], use: .training) } throws: {
            "\($0)".hasPrefix("\(root)/class1/corrupt.jpg: ")
        }
        #expect(throws: DatasetError("/nonexistent/imagenet", "no such directory")) {
            try FolderExamples(root: "/nonexistent/imagenet", crop: 224)
        }
    }
}
