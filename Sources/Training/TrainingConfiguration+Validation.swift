import Compute
import Datasets

extension TrainingConfiguration {
    /// Checks a configuration against the data: image shape, classes, validation split, crop padding and a
    /// step of `globalBatch` examples.
    public func validate(train: LabeledImages, test: LabeledImages, globalBatch: Int) throws {
        let c = self
        let expected = c.model.inputShape
        for data in [train, test] {
            guard data.imageShape == expected else {
                throw TrainingError(
                    "\(data.source): images are \(data.imageShape.map(String.init).joined(separator: "×")); variant \(c.model.name) expects \(expected.map(String.init).joined(separator: "×"))"
                )
            }
            guard data.classes <= c.model.classes else {
                throw TrainingError(
                    "\(data.source): \(data.classes) classes; variant \(c.model.name) has \(c.model.classes) outputs")
            }
        }
        guard c.validationCount >= 0, c.validationCount < train.count else {
            throw TrainingError("--validation \(c.validationCount) must be below the \(train.count) training examples")
        }
        guard c.augmentation.cropPadding < expected[1] else {
            throw TrainingError(
                "crop padding \(c.augmentation.cropPadding) must be below the image size \(expected[1])")
        }
        let fitCount = train.count - c.validationCount
        guard fitCount >= globalBatch else {
            throw TrainingError(
                globalBatch == c.batchSize
                    ? "batch size \(c.batchSize) exceeds the \(fitCount) training examples"
                    : "a step takes \(globalBatch) examples (\(globalBatch / c.batchSize) ranks × batch size \(c.batchSize)), more than the \(fitCount) training examples"
            )
        }
    }
}
