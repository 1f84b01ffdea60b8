import ArgumentParser
import Collectives
import Compute
import Datasets
import Foundation
import Training

extension AlexNet.Variant: ExpressibleByArgument {}

/// Which network: `--variant`, `--groups`.
struct ModelOptions: ParsableArguments {
    @Option(help: "AlexNet variant: paper (2012, 3×227×227), owt (2014, 3×224×224) or small (1×28×28, 10 classes).")
    var variant: AlexNet.Variant = .small

    @Option(
        help:
            "Convolution groups in conv2, conv4 and conv5 of `paper`: 1 (single tower) or 2 (the original two-tower connectivity)."
    )
    var groups: Int = 1

    @Option(
        help:
            "Outputs of the last layer (torchvision's num_classes). Default: the data set's classes with --shards or --train-folder, else the variant's (1000 for paper and owt, 10 for small)."
    )
    var classes: Int?

    func validate() throws {
        guard groups == 1 || groups == 2 else { throw ValidationError("--groups must be 1 or 2, got \(groups)") }
        if let classes, !(1...AlexNet.maxClasses).contains(classes) {
            throw ValidationError("--classes must be 1…\(AlexNet.maxClasses), got \(classes)")
        }
        guard groups == 1 || variant == .paper else {
            throw ValidationError("--groups 2 applies to the paper variant only, not \(variant.rawValue)")
        }
    }

    var model: AlexNet { model(dataClasses: nil) }

    /// The network, its last layer sized `--classes`, else `dataClasses` (a data set that names its classes),
    /// else the variant's.
    func model(dataClasses: Int?) -> AlexNet {
        let variant = AlexNet.make(variant, groups: groups)!
        return variant.withClasses(classes ?? dataClasses ?? variant.classes)
    }
}

/// Compute threads: `--threads`.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Compute threads (oneDNN's OpenMP threads). Default: every core.")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func apply() {
        ComputeEngine.threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
    }
}

/// How prepared shards and image folders are read: `--loader-threads`, `--prefetch`.
struct LoaderOptions: ParsableArguments {
    @Option(help: "Decoding threads per rank for --shards and image folders.") var loaderThreads: Int = 1
    @Option(help: "Batches made ahead on a background thread while the current one computes (0: none).")
    var prefetch: Int = 2

    func validate() throws {
        guard (1...256).contains(loaderThreads) else {
            throw ValidationError("--loader-threads must be 1…256, got \(loaderThreads)")
        }
        guard (0...64).contains(prefetch) else { throw ValidationError("--prefetch must be 0…64, got \(prefetch)") }
    }
}

/// Where the test images come from: an MNIST-format directory, explicit IDX files, prepared shards or
/// image class folders. What `evaluate` takes; `train` adds the training set's flags (`DataOptions`).
struct TestDataOptions: ParsableArguments {
    @Option(help: "Directory with MNIST-format gzip'd IDX files (train-images-idx3-ubyte.gz, t10k-…).")
    var data: String = FashionMNIST.defaultDirectory
    @Option(help: "Test images IDX file (overrides --data).")
    var testImages: String?
    @Option(help: "Test labels IDX file (overrides --data).")
    var testLabels: String?
    @Option(
        help:
            "Test images as JPEG/PNG files in class folders (ROOT/<class>/<image>), read as --train-folder reads them; overrides --data."
    )
    var testFolder: String?
    @Option(help: "With image class folders: read at most N images per class.")
    var perClassLimit: Int?
    @Option(help: "Use only the first N test examples.")
    var testLimit: Int?
    @Option(
        help:
            "A data set made by `alexnet-dist prepare`: train on its train split (the paper's augmentation: random crops of the variant's input size, flips, PCA lighting), test on its val split, normalised with its mean and std; overrides --data."
    )
    var shards: String?
    @OptionGroup var loader: LoaderOptions
    @Flag(
        help:
            "With --shards or image folders: test on the paper's ten windows of each image (the four corners and the centre, each mirrored), softmax outputs averaged, instead of the centre window."
    )
    var tenCrop = false

    func validate() throws {
        let testSources = [
            shards.map { _ in "--shards" }, testFolder.map { _ in "--test-folder" },
            testImages.map { _ in "--test-images" },
        ].compactMap { $0 }
        if testSources.count > 1 {
            throw ValidationError("\(testSources.joined(separator: " and ")) name two test sets: give one")
        }
        if perClassLimit != nil && testFolder == nil {
            throw ValidationError("--per-class-limit applies to image folders (--train-folder, --test-folder)")
        }
        if tenCrop && shards == nil && testFolder == nil {
            throw ValidationError("--ten-crop needs --shards or --test-folder (images of 256 pixels to crop)")
        }
        if (testImages == nil) != (testLabels == nil) {
            throw ValidationError("--test-images and --test-labels go together")
        }
        if let perClassLimit, perClassLimit < 1 {
            throw ValidationError("--per-class-limit must be at least 1, got \(perClassLimit)")
        }
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be at least 1, got \(testLimit)") }
    }

    /// The test set when it is decoded per batch — the prepared shards' `split` (val: the test set), whose
    /// classes must be `classNames` when given, or an image folder labelled by `classNames` — for a network
    /// whose input is `imageShape` (C, H, W), centre or ten windows; nil for IDX files.
    /// - Parameter normalization: a model file's (nil: meta.json's, or ImageNet's for a folder).
    func source(
        imageShape: [Int], classNames: [String]? = nil, split: String = "val", normalization: Normalization? = nil
    ) throws -> (any ExampleSource)? {
        let source: any ExampleSource
        if let shards {
            try requireSquareRGB(imageShape)
            let set = try ShardExamples(
                directory: shards, split: split, crop: imageShape[1], lighting: 0, threads: loader.loaderThreads,
                tenCrop: tenCrop, normalization: normalization)
            if let classNames, classNames != set.shardSet.classes {
                throw ValidationError(
                    "\(shards)/meta.json: classes \(set.shardSet.classes.prefix(5).joined(separator: ", "))… differ from the model's (\(classNames.prefix(5).joined(separator: ", "))…)"
                )
            }
            source = set
        } else if let testFolder {
            try requireSquareRGB(imageShape)
            let folder = try FolderExamples(
                root: testFolder, split: "val", crop: imageShape[1], classNames: classNames,
                limitPerClass: perClassLimit,
                lighting: 0, threads: loader.loaderThreads, tenCrop: tenCrop, normalization: normalization)
            for note in folder.notes { printError(note) }
            source = folder
        } else {
            return nil
        }
        return testLimit.map { source.slice(0..<min($0, source.count)) } ?? source
    }

    /// The IDX test set.
    func load() throws -> LabeledImages {
        let set = try LabeledImages.idx(
            images: testImages ?? "\(data)/t10k-images-idx3-ubyte.gz",
            labels: testLabels ?? "\(data)/t10k-labels-idx1-ubyte.gz")
        return testLimit.map { set.prefix($0) } ?? set
    }
}

/// Where the training and test images come from (`train`).
struct DataOptions: ParsableArguments {
    @OptionGroup var test: TestDataOptions
    @Option(help: "Training images IDX file (overrides --data).")
    var trainImages: String?
    @Option(help: "Training labels IDX file (overrides --data).")
    var trainLabels: String?
    @Option(
        help:
            "Training images as JPEG/PNG files in class folders (ROOT/<class>/<image>), decoded every epoch on --loader-threads, resized as `prepare` resizes (short side 256, centre 256×256), with the paper's augmentation and ImageNet's mean, std and lighting; overrides --data. For more than a few thousand images, `prepare` them once and use --shards."
    )
    var trainFolder: String?
    @Option(help: "Use only the first N training examples.")
    var trainLimit: Int?
    @Option(
        help: "The standard deviation of the PCA lighting's α (0 turns it off), for --shards and --train-folder.")
    var lighting: Double = 0.1

    func validate() throws {
        guard lighting >= 0 && lighting.isFinite else {
            throw ValidationError("--lighting must be ≥ 0, got \(lighting)")
        }
        if (trainImages == nil) != (trainLabels == nil) {
            throw ValidationError("--train-images and --train-labels go together")
        }
        if (trainFolder == nil) != (test.testFolder == nil) {
            throw ValidationError("--train-folder and --test-folder go together")
        }
        if test.shards != nil && (trainFolder != nil || trainImages != nil) {
            throw ValidationError(
                "--shards and \(trainFolder != nil ? "--train-folder" : "--train-images") name two training sets: give one"
            )
        }
        if let trainLimit, trainLimit < 1 {
            throw ValidationError("--train-limit must be at least 1, got \(trainLimit)")
        }
    }

    /// The training and test sets when they are decoded per batch (prepared shards' train and val splits, or
    /// image folders) for a network whose input is `imageShape` (C, H, W), with the class names; nil for IDX
    /// files.
    /// - Parameter flip: the paper's horizontal flips (`--no-flip` turns them off).
    func sources(
        imageShape: [Int], flip: Bool
    ) throws -> (
        train: any ExampleSource, test: any ExampleSource, classNames: [String]
    )? {
        let train: any ExampleSource, classNames: [String]
        if let shards = test.shards {
            try requireSquareRGB(imageShape)
            let set = try ShardExamples(
                directory: shards, split: "train", crop: imageShape[1], lighting: lighting, flip: flip,
                threads: test.loader.loaderThreads)
            (train, classNames) = (set, set.shardSet.classes)
        } else if let trainFolder {
            try requireSquareRGB(imageShape)
            let folder = try FolderExamples(
                root: trainFolder, crop: imageShape[1], limitPerClass: test.perClassLimit, lighting: lighting,
                flip: flip, threads: test.loader.loaderThreads)
            for note in folder.notes { printError(note) }
            (train, classNames) = (folder, folder.classNames)
        } else {
            return nil
        }
        let limited = trainLimit.map { train.slice(0..<min($0, train.count)) } ?? train
        return (limited, try test.source(imageShape: imageShape, classNames: classNames)!, classNames)
    }

    /// The IDX training and test sets.
    func load() throws -> (train: LabeledImages, test: LabeledImages) {
        let train = try LabeledImages.idx(
            images: trainImages ?? "\(test.data)/train-images-idx3-ubyte.gz",
            labels: trainLabels ?? "\(test.data)/train-labels-idx1-ubyte.gz")
        return (trainLimit.map { train.prefix($0) } ?? train, try test.load())
    }
}

/// Shards and image folders decode to 3×S×S images.
private func requireSquareRGB(_ imageShape: [Int]) throws {
    guard imageShape[0] == 3, imageShape[1] == imageShape[2] else {
        throw ValidationError(
            "shards and image folders give 3×S×S images; this variant takes \(imageShape.map(String.init).joined(separator: "×"))"
        )
    }
}

extension IntegerList: ExpressibleByArgument {}

extension Initialization: ExpressibleByArgument {}

/// Creates the parent directory of an output file when missing.
func ensureParentDirectory(of path: String) throws {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
        // The nearest existing ancestor says why.
        var ancestor = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), ancestor.path != "/" {
            ancestor.deleteLastPathComponent()
        }
        let reason =
            isDirectory.boolValue ? "\(ancestor.path) is not writable" : "\(ancestor.path) is a file, not a directory"
        throw TrainingError("cannot write \(path): its directory \(directory) cannot be created (\(reason))")
    }
}

/// Writes `value` as pretty, sorted, snake-case JSON to `path`, atomically (creating the directory).
func writeJSON(_ value: some Encodable, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    try ensureParentDirectory(of: path)
    try AtomicFile.write(path, data: Array(try encoder.encode(value)))
}
extension ParallelPlan.Parallelism: ExpressibleByArgument {}
extension ParallelPlan.Scheme: ExpressibleByArgument {}

/// A comma-separated list of codecs (`none,bf16+zstd,topk:0.05`), parsed once.
struct CodecList: CustomStringConvertible {
    var codecs: [Codec]

    init(_ codecs: [Codec]) { self.codecs = codecs }

    init(parsing text: String) throws { codecs = try Codec.list(parsing: text) }

    var description: String { codecs.map(\.description).joined(separator: ",") }
}
