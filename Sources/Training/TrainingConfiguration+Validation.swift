import Compute
import Datasets

extension TrainingConfiguration {
    /// Checks a configuration against the data: image shape, classes, validation split, crop padding and a
    /// step of `globalBatch` examples.
    public func validate(train: any ExampleSource, test: any ExampleSource, globalBatch: Int) throws {
        let expected = model.inputShape
        for data in [train, test] {
            guard data.exampleShape == expected else {
                throw TrainingError(
                    "\(data.origin): images are \(data.exampleShape.map(String.init).joined(separator: "×")); variant \(model.name) expects \(expected.map(String.init).joined(separator: "×"))"
                )
            }
            guard data.classes <= model.classes else {
                throw TrainingError(
                    "\(data.origin): \(data.classes) classes; variant \(model.name) has \(model.classes) outputs")
            }
        }
        guard validationCount >= 0, validationCount < train.count else {
            throw TrainingError("--validation \(validationCount) must be below the \(train.count) training examples")
        }
        guard augmentation.cropPadding < expected[1] else {
            throw TrainingError(
                "crop padding \(augmentation.cropPadding) must be below the image size \(expected[1])")
        }
        let fitCount = train.count - validationCount
        guard fitCount >= globalBatch else {
            throw TrainingError(
                globalBatch == batchSize
                    ? "batch size \(batchSize) exceeds the \(fitCount) training examples"
                    : "a step takes \(globalBatch) examples (\(globalBatch / batchSize) ranks × batch size \(batchSize)), more than the \(fitCount) training examples"
            )
        }
    }
}
