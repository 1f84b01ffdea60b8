import Datasets

/// A JPEG or PNG decoded (the format from the content), then resized and centre-cropped as prepare does.
func fuzzImage(_ bytes: UnsafeRawBufferPointer) {
    guard let decoder = try? ImageDecoder() else { return }
    if let image = try? decoder.decode([UInt8](bytes), path: "input") {
        _ = image.prepared(size: 16, square: true)
    }
}
