/// ImageNet's commonly used channel statistics (torchvision's normalisation; the PCA lighting constants
/// of fb.resnet.torch, from AlexNet's training set): `prepare` prints them beside a data set's own, and
/// `FolderExamples` (images read straight from class folders, with no pass over the data) uses them.
public enum ImageNetStatistics {
    public static let mean: [Double] = [0.485, 0.456, 0.406]
    public static let std: [Double] = [0.229, 0.224, 0.225]
    /// λ, descending, in [0, 1] pixel units.
    public static let eigenvalues: [Double] = [0.2175, 0.0188, 0.0045]
    /// p as columns: row c is channel c (R, G, B).
    public static let eigenvectors: [[Double]] = [
        [-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203],
    ]
    public static var normalization: Normalization {
        Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
    }
}
