import Compute
import Training

/// safetensors parsed and every tensor read; then the same bytes as a model file and as a checkpoint of
/// `small`.
func fuzzSafeTensors(_ bytes: UnsafeRawBufferPointer) {
    let path = scratchFile("input.safetensors", bytes)
    if let file = try? SafeTensors.File(path: path) {
        for (name, shape) in file.shapes {
            var values = [Float](repeating: 0, count: shape.reduce(1, *))
            values.withUnsafeMutableBufferPointer { try? file.read(name, into: $0) }
        }
    }
    _ = try? ModelFile.load(path)
    _ = try? Checkpoint.load(path, for: TrainingConfiguration(model: .small))
}
