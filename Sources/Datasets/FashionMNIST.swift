/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60,000 training and 10,000 test images, 1×28×28,
/// 10 classes, as Debian's `dataset-fashion-mnist` installs it (`dpkg -L dataset-fashion-mnist`).
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
        "Sneaker", "Bag", "Ankle boot",
    ]

    /// Loads the training or test split of an MNIST-format directory (`train-images-idx3-ubyte.gz`, ...).
    public static func load(split: Split, directory: String = defaultDirectory) throws -> LabeledImages {
        let prefix = split == .train ? "train" : "t10k"
        return try LabeledImages.idx(
            images: "\(directory)/\(prefix)-images-idx3-ubyte.gz",
            labels: "\(directory)/\(prefix)-labels-idx1-ubyte.gz")
    }

    public enum Split: Sendable { case train, test }
}
