import CTurboJPEG
import Foundation

/// Images in class-per-folder layout, as ImageNet's training set is shipped: `ROOT/<class>/<name>.jpg`
/// (`.jpg`, `.jpeg`, any case; other files are ignored). Classes are the folder names in sorted order.
///
/// Each image is decoded by libjpeg-turbo to RGB, its shorter side resized to `size` (bilinear; no
/// anti-aliasing, so strong down-scaling aliases) and centre-cropped to size × size — the paper's
/// preprocessing with the crop taken at the network's input size. Images are held in memory as bytes
/// (3 · size² each: 155 KB at 227), which suits subsets of ImageNet-style data, not all of it.
public enum JPEGFolder {
    /// - Parameters:
    ///   - classNames: the classes to expect, in label order (pass the training set's for its test set);
    ///     nil reads them from the folder. A folder not in the list is an error.
    ///   - limitPerClass: read at most this many images of each class (file names in sorted order).
    public static func load(
        root: String, size: Int, classNames: [String]? = nil,
        limitPerClass: Int? = nil
    ) throws -> (images: LabeledImages, classNames: [String]) {
        precondition(size >= 1, "JPEG folder: image size must be at least 1")
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(root, "no such directory")
        }
        let folders = try fm.contentsOfDirectory(atPath: root).filter {
            var dir: ObjCBool = false
            return fm.fileExists(atPath: "\(root)/\($0)", isDirectory: &dir) && dir.boolValue
        }.sorted()
        guard !folders.isEmpty else { throw DatasetError(root, "no class folders (expected ROOT/<class>/<image>.jpg)") }
        let names = classNames ?? folders
        guard Set(names).count == names.count else { throw DatasetError(root, "the class names \(names) repeat") }
        let labelOf = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0)) })

        guard let handle = tjInitDecompress() else { throw DatasetError(root, "libjpeg-turbo could not start") }
        defer { tjDestroy(handle) }
        var pixels: [UInt8] = [], labels: [Int32] = []
        for folder in folders {
            guard let label = labelOf[folder] else {
                throw DatasetError(
                    "\(root)/\(folder)", "class '\(folder)' is not among the \(names.count) training classes")
            }
            var files = try fm.contentsOfDirectory(atPath: "\(root)/\(folder)").filter {
                ["jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased())
            }.sorted()
            if let limitPerClass { files = Array(files.prefix(limitPerClass)) }
            for file in files {
                pixels += try decode("\(root)/\(folder)/\(file)", handle: handle, size: size)
                labels.append(label)
            }
        }
        guard !labels.isEmpty else { throw DatasetError(root, "no .jpg or .jpeg images in the class folders") }
        return (
            LabeledImages(
                pixels: pixels, labels: labels, imageShape: [3, size, size], classes: names.count, source: root),
            names
        )
    }

    /// Decodes one JPEG and returns its (3, size, size) centre crop after resizing the shorter side.
    static func decode(_ path: String, handle: tjhandle, size: Int) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError(path, "cannot be read") }
        let jpeg = [UInt8](data)
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, jpeg, UInt(jpeg.count), &width, &height, &subsampling, &colorspace) == 0
        else {
            throw DatasetError(path, "not a readable JPEG image (\(String(cString: tjGetErrorStr2(handle))))")
        }
        var rgb = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
        // Warnings (a truncated file, for one) also return −1: the image is then incomplete, so they are errors.
        guard
            tjDecompress2(
                handle, jpeg, UInt(jpeg.count), &rgb, width, 0, height, Int32(TJPF_RGB.rawValue),
                TJFLAG_ACCURATEDCT) == 0
        else {
            throw DatasetError(path, "corrupt or truncated JPEG data (\(String(cString: tjGetErrorStr2(handle))))")
        }
        return resizeAndCentreCrop(rgb, width: Int(width), height: Int(height), size: size)
    }

    /// Interleaved RGB (H, W, 3) → planar (3, size, size): bilinear resize of the shorter side to `size`,
    /// centre crop.
    static func resizeAndCentreCrop(_ rgb: [UInt8], width: Int, height: Int, size: Int) -> [UInt8] {
        let scale = Double(size) / Double(min(width, height))
        let resizedW = max(size, Int((Double(width) * scale).rounded()))
        let resizedH = max(size, Int((Double(height) * scale).rounded()))
        let offsetX = (resizedW - size) / 2, offsetY = (resizedH - size) / 2
        var out = [UInt8](repeating: 0, count: 3 * size * size)
        for y in 0..<size {
            let sy = min(max((Double(y + offsetY) + 0.5) / scale - 0.5, 0), Double(height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = sy - Double(y0)
            for x in 0..<size {
                let sx = min(max((Double(x + offsetX) + 0.5) / scale - 0.5, 0), Double(width - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = sx - Double(x0)
                for c in 0..<3 {
                    let top =
                        Double(rgb[(y0 * width + x0) * 3 + c]) * (1 - fx) + Double(rgb[(y0 * width + x1) * 3 + c]) * fx
                    let bottom =
                        Double(rgb[(y1 * width + x0) * 3 + c]) * (1 - fx) + Double(rgb[(y1 * width + x1) * 3 + c]) * fx
                    out[(c * size + y) * size + x] = UInt8((top * (1 - fy) + bottom * fy).rounded())
                }
            }
        }
        return out
    }
}
