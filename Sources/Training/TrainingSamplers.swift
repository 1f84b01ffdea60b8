import Compute
import Datasets

/// The samplers of a run: the training set less a held-out validation tail, the validation tail and the
/// test set, all normalised with the training part's channel statistics.
public struct TrainingSamplers: Sendable {
    public let train: BatchSampler
    public let validation: BatchSampler?
    public let test: BatchSampler

    /// Examples that bring their own normalisation (prepared shards): the validation tail and the test set
    /// are drawn without augmentation.
    public init(_ c: TrainingConfiguration, train: any ExampleSource, test: any ExampleSource) {
        let fitCount = train.count - c.validationCount
        self.train = BatchSampler(
            source: c.validationCount > 0 ? train.slice(0..<fitCount) : train, shuffle: true, seed: c.seed,
            prefetch: c.prefetch)
        validation =
            c.validationCount > 0
            ? BatchSampler(
                source: train.slice(fitCount..<train.count), shuffle: false, seed: c.seed, prefetch: c.prefetch) : nil
        self.test = BatchSampler(source: test, shuffle: false, seed: c.seed, prefetch: c.prefetch)
    }

    public init(_ c: TrainingConfiguration, train: LabeledImages, test: LabeledImages) {
        let fitCount = train.count - c.validationCount
        let fit = c.validationCount > 0 ? train.slice(0..<fitCount) : train
        let normalization = fit.channelStatistics()
        self.train = BatchSampler(
            data: fit, normalization: normalization, augmentation: c.augmentation, shuffle: true, seed: c.seed,
            prefetch: c.prefetch)
        validation =
            c.validationCount > 0
            ? BatchSampler(
                data: train.slice(fitCount..<train.count), normalization: normalization, shuffle: false, seed: c.seed,
                prefetch: c.prefetch)
            : nil
        self.test = BatchSampler(
            data: test, normalization: normalization, shuffle: false, seed: c.seed, prefetch: c.prefetch)
    }

    public var normalization: Normalization { train.normalization }
}
