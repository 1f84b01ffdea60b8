import Compute
import Dispatch
import Foundation

/// Prepared shards as an `ExampleSource`: each example decoded from its shard when a batch needs it, then
/// written by `CropWriter` (on `threads` threads; while training the paper's augmentation with meta.json's
/// eigenvectors, otherwise the centre window or, with `tenCrop`, the ten), normalised with meta.json's mean
/// and std.
public final class ShardExamples: ExampleSource, @unchecked Sendable {
    public let shardSet: ShardSet
    public let split: String
    public let directory: String
    /// The shards' readers (memory maps), shared by slices; read-only after init.
    private let readers: [ShardReader]
    /// The first example of each shard, and the total.
    private let starts: [Int]
    private let writer: CropWriter

    /// Opens `directory`'s `split` shards (checking each index against its data file and meta.json).
    /// - Parameter normalization: the mean and std to normalise with (a model file's); nil: meta.json's.
    public init(
        directory: String, split: String, crop: Int, lighting: Double = 0.1, flip: Bool = true, threads: Int = 1,
        tenCrop: Bool = false, normalization: Normalization? = nil
    ) throws {
        let metaPath = "\(directory)/meta.json"
        guard let data = FileManager.default.contents(atPath: metaPath) else {
            throw DatasetError(metaPath, "cannot be read (prepare the data set with alexnet-dist prepare)")
        }
        let set: ShardSet
        do { set = try JSONDecoder().decode(ShardSet.self, from: data) } catch {
            throw DatasetError(metaPath, "not a shard set description: \(error)")
        }
        guard set.format == "alexnet-dist shards", set.version == ShardSet.formatVersion else {
            throw DatasetError(
                metaPath,
                "format '\(set.format)' version \(set.version), expected 'alexnet-dist shards' version \(ShardSet.formatVersion)"
            )
        }
        guard let shards = set.splits[split], !shards.isEmpty else {
            throw DatasetError(
                metaPath, "no split '\(split)' (it has \(set.splits.keys.sorted().joined(separator: ", ")))")
        }
        guard set.mean.count == 3, set.std.count == 3, set.std.allSatisfy({ $0 > 0 && $0.isFinite }),
            set.eigenvalues.count == 3, set.eigenvectors.count == 3, set.eigenvectors.allSatisfy({ $0.count == 3 })
        else { throw DatasetError(metaPath, "mean, std, eigenvalues or eigenvectors are not 3 finite values each") }
        guard crop <= set.size else {
            throw DatasetError(metaPath, "images of \(set.size) pixels are smaller than the \(crop)-pixel crop")
        }
        shardSet = set
        self.split = split
        self.directory = directory
        readers = try shards.map { try ShardReader(directory: directory, shard: $0, classes: set.classes.count) }
        var starts = [0]
        for reader in readers { starts.append(starts.last! + reader.records.count) }
        self.starts = starts
        writer = CropWriter(
            crop: crop, eigenvalues: set.eigenvalues, eigenvectors: set.eigenvectors, lighting: lighting, flip: flip,
            normalization: normalization
                ?? Normalization(mean: set.mean.map(Float.init), std: set.std.map(Float.init)),
            tenCrop: tenCrop, threads: threads)
    }

    public var count: Int { starts.last! }
    public var origin: String { "\(directory) (\(split))" }
    public var classes: Int { shardSet.classes.count }
    public var exampleShape: [Int] { writer.exampleShape }
    public var normalization: Normalization { writer.normalization }
    public var views: Int { writer.views }

    public func slice(_ range: Range<Int>) -> any ExampleSource { ExampleSlice(self, range: range) }

    /// The shard and record of example `i` of the split.
    private func locate(_ i: Int) -> (shard: Int, record: Int) {
        var low = 0, high = readers.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= i { low = mid } else { high = mid - 1 }
        }
        return (low, i - starts[low])
    }

    public func fill<Indices: Collection<Int>>(
        _ indices: Indices, epoch: Int, use: ExampleUse, seed: UInt64,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) throws {
        let crop = writer.augmentation.crop
        try writer.fill(Array(indices), use: use, seed: seed, epoch: epoch, images: images, labels: labels) {
            decoder, example in
            let (shard, record) = locate(example)
            let reader = readers[shard], entry = reader.records[record]
            let bytes = Array(reader.bytes(of: record)), path = "\(reader.path) record \(record)"
            let image: RGBImage
            if case .raw = shardSet.storage {
                let (width, height) = (Int(entry.width), Int(entry.height))
                guard bytes.count == width * height * 3 else {
                    throw DatasetError(
                        path,
                        "\(bytes.count) bytes of raw pixels, expected \(width) × \(height) × 3 = \(width * height * 3)")
                }
                image = RGBImage(width: width, height: height, pixels: bytes)
            } else {
                image = try decoder.decode(bytes, path: path)
                guard image.width == Int(entry.width), image.height == Int(entry.height) else {
                    throw DatasetError(
                        path, "a \(image.width) × \(image.height) JPEG, the index says \(entry.width) × \(entry.height)"
                    )
                }
            }
            guard image.width >= crop, image.height >= crop else {
                throw DatasetError(
                    path, "a \(image.width) × \(image.height) image, smaller than the \(crop)-pixel crop")
            }
            return (image, Int(entry.label))
        }
    }

}
