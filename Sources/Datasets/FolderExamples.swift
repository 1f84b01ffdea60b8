import Foundation

/// Images read straight from class folders (torchvision's `ImageFolder` conventions, as `prepare` reads
/// them: classes are the sorted folder names; .jpg, .jpeg and .png in any case, the format taken from the
/// content), decoded when a batch needs them, with no `prepare` pass: each image resized as `prepare` resizes
/// it (Pillow's anti-aliased bilinear, short side 256, the centre 256 × 256), then written by `CropWriter`
/// (the paper's augmentation while training, the centre or ten windows otherwise) and normalised with
/// ImageNet's statistics (`ImageNetStatistics`, also the lighting's eigenvectors) unless told otherwise.
///
/// Every epoch decodes and resizes every full-size image again: fine for a few thousand images; for more,
/// `prepare` once and train on the shards (the same pixels, decoded from 256-pixel JPEGs).
public final class FolderExamples: ExampleSource, @unchecked Sendable {
    public let root: String
    public let classNames: [String]
    /// What reading the folders found worth saying (empty class folders, skipped files).
    public let notes: [String]
    /// The size images are resized and centre-cropped to before the crops: `prepare`'s default.
    public static let preparedSize = 256
    private let items: [ImageSource.Item]
    private let writer: CropWriter

    /// Reads `root`'s class folders (a `train/`+`val/` root: its `split`).
    /// - Parameters:
    ///   - classNames: the classes in label order (a test folder takes the training set's); nil: the folders'.
    ///     A folder not among them is an error.
    ///   - limitPerClass: at most this many images of each class (file names in sorted order).
    ///   - normalization: a model file's; nil: ImageNet's.
    public init(
        root: String, split: String = "train", crop: Int, classNames: [String]? = nil, limitPerClass: Int? = nil,
        lighting: Double = 0.1, flip: Bool = true, threads: Int = 1, tenCrop: Bool = false,
        normalization: Normalization? = nil
    ) throws {
        precondition(crop <= FolderExamples.preparedSize, "FolderExamples: crop \(crop) above 256")
        let source = try ImageSource(root: root, split: split)
        let names = classNames ?? source.classes
        var items: [ImageSource.Item] = []
        var perClass: [Int: Int] = [:]
        // Plain class folders are one tree, whichever split is asked for.
        let tree = source.splits.first { $0.name == split } ?? source.splits[0]
        for item in tree.items {
            let folder = source.classes[item.label]
            guard let label = names.firstIndex(of: folder) else {
                throw DatasetError(
                    (item.path as NSString).deletingLastPathComponent,
                    "class '\(folder)' is not among the \(names.count) training classes")
            }
            if let limitPerClass, perClass[label, default: 0] >= limitPerClass { continue }
            perClass[label, default: 0] += 1
            items.append(ImageSource.Item(path: item.path, label: label))
        }
        self.root = root
        self.classNames = names
        notes = source.notes
        self.items = items
        writer = CropWriter(
            crop: crop, eigenvalues: ImageNetStatistics.eigenvalues, eigenvectors: ImageNetStatistics.eigenvectors,
            lighting: lighting, flip: flip, normalization: normalization ?? ImageNetStatistics.normalization,
            tenCrop: tenCrop, threads: threads)
    }

    public var count: Int { items.count }
    public var classes: Int { classNames.count }
    public var origin: String { root }
    public var exampleShape: [Int] { writer.exampleShape }
    public var normalization: Normalization { writer.normalization }
    public var views: Int { writer.views }

    public func slice(_ range: Range<Int>) -> any ExampleSource { ExampleSlice(self, range: range) }

    public func fill<Indices: Collection<Int>>(
        _ indices: Indices, epoch: Int, use: ExampleUse, seed: UInt64,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) throws {
        let items = self.items
        try writer.fill(Array(indices), use: use, seed: seed, epoch: epoch, images: images, labels: labels) {
            decoder, example in
            let item = items[example]
            guard let data = FileManager.default.contents(atPath: item.path) else {
                throw DatasetError(item.path, "cannot be read")
            }
            let image = try decoder.decode([UInt8](data), path: item.path)
            return (image.prepared(size: FolderExamples.preparedSize, square: true), item.label)
        }
    }
}
