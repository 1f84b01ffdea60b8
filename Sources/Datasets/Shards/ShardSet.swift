/// A prepared data set's description (`DEST/meta.json`): the classes, each split's shards, how images are
/// stored, and the training images' statistics (the mean subtracted, the PCA lighting's eigenvalues and
/// eigenvectors of the RGB covariance).
public struct ShardSet: Codable, Sendable, Equatable {
    /// One shard: `SPLIT-NNNNN.data` (records back to back) and `SPLIT-NNNNN.index` (`ShardRecord`s).
    public struct Shard: Codable, Sendable, Equatable {
        /// The file name without extension, such as `train-00000`.
        public var name: String
        public var records: Int
        public var bytes: Int
        /// zlib's CRC-32 of the data file.
        public var crc32: UInt32
        /// zlib's CRC-32 of the index, checked whenever the shard is opened (absent in sets prepared before
        /// it was recorded).
        public var indexCRC32: UInt32?
    }

    /// How images are stored.
    public enum Storage: Codable, Sendable, Equatable {
        /// JPEG at this quality (1…100).
        case jpeg(quality: Int)
        /// Raw RGB bytes, (H, W, 3).
        case raw
    }

    public static let formatVersion = 1
    public var format = "alexnet-dist shards"
    public var version = ShardSet.formatVersion
    public var classes: [String]
    public var storage: Storage
    /// The side of the short edge (256), and whether images were centre-cropped to square.
    public var size: Int
    public var square: Bool
    public var splits: [String: [Shard]]
    /// Per channel, over the training images, in [0, 1] units.
    public var mean: [Double]
    public var std: [Double]
    /// The RGB covariance's eigenvalues (descending) and eigenvectors (columns), in [0, 1] units.
    public var eigenvalues: [Double]
    public var eigenvectors: [[Double]]

    public init(
        classes: [String], storage: Storage, size: Int, square: Bool, splits: [String: [Shard]] = [:],
        mean: [Double] = [], std: [Double] = [], eigenvalues: [Double] = [], eigenvectors: [[Double]] = []
    ) {
        self.classes = classes
        self.storage = storage
        self.size = size
        self.square = square
        self.splits = splits
        self.mean = mean
        self.std = std
        self.eigenvalues = eigenvalues
        self.eigenvectors = eigenvectors
    }
}
