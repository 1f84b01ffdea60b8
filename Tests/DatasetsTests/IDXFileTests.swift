import Foundation
import Testing

@testable import Datasets

/// A scratch directory removed when the value goes away.
final class ScratchDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "alexnet-dist-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = "\(path)/\(name)"
        FileManager.default.createFile(atPath: file, contents: Data(bytes))
        return file
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// An uncompressed IDX file of unsigned bytes.
func idxBytes(dims: [Int], values: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
    for d in dims { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return bytes + values
}

let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz")

@Suite struct IDXFileTests {
    @Test func readsAnUncompressedFile() throws {
        let dir = ScratchDirectory()
        let path = dir.write("x.idx", idxBytes(dims: [2, 2, 3], values: Array(0..<12)))
        let file = try IDXFile(path: path, rank: 3)
        #expect(file.dims == [2, 2, 3])
        #expect(file.values == Array(0..<12))
    }

    @Test func namesTheFileWhenItIsMissing() {
        #expect(throws: DatasetError("/nonexistent/train-images-idx3-ubyte.gz", "no such file")) {
            try IDXFile(path: "/nonexistent/train-images-idx3-ubyte.gz", rank: 3)
        }
    }

    @Test func rejectsTruncatedData() {
        let dir = ScratchDirectory()
        let path = dir.write("short.idx", idxBytes(dims: [2, 2, 3], values: Array(0..<10)))
        #expect(throws: DatasetError(path, "truncated: 2×2×3 needs 12 data bytes, found 10")) {
            try IDXFile(path: path, rank: 3)
        }
    }

    @Test func rejectsDimensionsTooLargeForTheFile() {
        let dir = ScratchDirectory()
        let path = dir.write("huge.idx", [0, 0, 8, 3] + Array(repeating: 0xFF, count: 12) + [1, 2, 3])
        #expect(
            throws: DatasetError(
                path, "corrupt IDX header: dimensions 4294967295×4294967295×4294967295 are too large")
        ) {
            try IDXFile(path: path, rank: 3)
        }
    }

    @Test func rejectsTheWrongRankAndType() {
        let dir = ScratchDirectory()
        let labels = dir.write("labels.idx", idxBytes(dims: [4], values: [1, 2, 3, 4]))
        #expect(throws: DatasetError(labels, "IDX file has 1 dimensions, expected 3")) {
            try IDXFile(path: labels, rank: 3)
        }
        var floats = idxBytes(dims: [1], values: [0, 0, 0, 0])
        floats[2] = 0x0D
        let path = dir.write("floats.idx", floats)
        #expect(throws: DatasetError(path, "IDX element type 0x0d is not unsigned bytes (0x08)")) {
            try IDXFile(path: path, rank: 1)
        }
        let text = dir.write("text.idx", Array("hello world".utf8))
        #expect(throws: DatasetError(text, "not an IDX file (the first two bytes must be zero)")) {
            try IDXFile(path: text, rank: 1)
        }
    }

    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func detectsATruncatedGzipDownload() throws {
        let real = [UInt8](
            FileManager.default.contents(atPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz")!)
        let dir = ScratchDirectory()
        let path = dir.write("t10k-labels-idx1-ubyte.gz", Array(real.prefix(real.count / 2)))
        let error = #expect(throws: DatasetError.self) { try IDXFile(path: path, rank: 1) }
        #expect(error?.problem.hasPrefix("truncated gzip data") == true, "\(String(describing: error))")
    }

    /// A size field claiming 2 GB is believed only up to 8 times the file's size (plus 1 MiB): the first
    /// buffer stays near the file's size, and the damaged trailer is an error naming the file.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func aDamagedSizeFieldDoesNotAllocateWhatItClaims() throws {
        var bytes = [UInt8](
            FileManager.default.contents(atPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz")!)
        #expect(inflatedSizeGuess(bytes) == 10_008 + 1)  // the real size, as its trailer says
        bytes.replaceSubrange((bytes.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect(inflatedSizeGuess(bytes) <= bytes.count * 8 + (1 << 20))
        let dir = ScratchDirectory()
        let path = dir.write("t10k-labels-idx1-ubyte.gz", bytes)
        let error = #expect(throws: DatasetError.self) { try IDXFile(path: path, rank: 1) }
        #expect(error?.path == path, "\(String(describing: error))")
    }

    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func detectsACorruptGzipStream() throws {
        var bytes = [UInt8](
            FileManager.default.contents(atPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz")!)
        for i in stride(from: 40, to: bytes.count - 40, by: 97) { bytes[i] ^= 0x5A }
        let dir = ScratchDirectory()
        let path = dir.write("t10k-labels-idx1-ubyte.gz", bytes)
        let error = #expect(throws: DatasetError.self) { try IDXFile(path: path, rank: 1) }
        #expect(error?.path == path)
        #expect(
            error?.problem.contains("corrupt gzip data") == true || error?.problem.contains("truncated") == true,
            "\(String(describing: error))")
    }
}

@Suite struct FashionMNISTTests {
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func loadsTheRealTestSet() throws {
        let test = try FashionMNIST.load(split: .test)
        #expect(test.count == 10_000)
        #expect(test.imageShape == [1, 28, 28])
        // Fashion-MNIST's test set holds exactly 1,000 images of each class.
        let counts = Dictionary(grouping: test.labels, by: { $0 }).mapValues(\.count)
        #expect(counts.count == 10 && counts.values.allSatisfy { $0 == 1000 })
    }

    @Test func rejectsImagesAndLabelsOfDifferentCounts() {
        let dir = ScratchDirectory()
        let images = dir.write("i.idx", idxBytes(dims: [3, 2, 2], values: Array(repeating: 0, count: 12)))
        let labels = dir.write("l.idx", idxBytes(dims: [2], values: [0, 1]))
        #expect(throws: DatasetError(labels, "2 labels for the 3 images in \(images)")) {
            try LabeledImages.idx(images: images, labels: labels)
        }
    }

    @Test func rejectsLabelsOutsideTheClasses() {
        let dir = ScratchDirectory()
        let images = dir.write("i.idx", idxBytes(dims: [2, 2, 2], values: Array(repeating: 0, count: 8)))
        let labels = dir.write("l.idx", idxBytes(dims: [2], values: [3, 12]))
        #expect(throws: DatasetError(labels, "label 12 at index 1 is outside 0..<10")) {
            try LabeledImages.idx(images: images, labels: labels)
        }
    }
}
