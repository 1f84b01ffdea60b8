import CZlib
import Foundation
import Testing

@testable import Datasets

/// `prepare`: a generated tree of JPEGs and PNGs (RGB, grey, palette; a PNG named `.JPEG`, a corrupt file,
/// an empty class folder) becomes shards that do not depend on the thread count, and an interrupted run
/// resumes to the same bytes as an uninterrupted one.
@Suite struct PreparerTests {
    /// A PNG of `pixels` (colour type 2: RGB, 0: grey, 3: palette of `palette`), deflated by zlib.
    static func png(width: Int, height: Int, colorType: UInt8, pixels: [UInt8], palette: [UInt8] = []) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            var body = Array(type.utf8) + data
            let crc = UInt32(body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) })
            body += withUnsafeBytes(of: crc.bigEndian) { Array($0) }
            return withUnsafeBytes(of: UInt32(data.count).bigEndian) { Array($0) } + body
        }
        let channels = colorType == 2 ? 3 : 1
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)
            raw += pixels[(y * width * channels)..<((y + 1) * width * channels)]
        }
        var size = compressBound(uLong(raw.count))
        var deflated = [UInt8](repeating: 0, count: Int(size))
        _ = compress(&deflated, &size, raw, uLong(raw.count))
        let header =
            withUnsafeBytes(of: UInt32(width).bigEndian) { Array($0) }
            + withUnsafeBytes(of: UInt32(height).bigEndian) { Array($0) } + [8, colorType, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
            + (palette.isEmpty ? [] : chunk("PLTE", palette)) + chunk("IDAT", Array(deflated.prefix(Int(size))))
            + chunk("IEND", [])
    }

    /// 3 classes × 6 images of 300–499 pixels a side, mixed formats, plus the awkward cases.
    static func tree() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tree-\(UUID().uuidString)").path
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        let encoder = try JPEGEncoder()
        for c in 0..<3 {
            let dir = "\(root)/class\(c)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<6 {
                let w = 300 + next() % 200, h = 300 + next() % 200
                var rgb = [UInt8](repeating: 0, count: w * h * 3)
                for k in rgb.indices {
                    let x = k / 3 % w, y = k / (3 * w)
                    let noise: Int = next() % 16
                    let value: Int = x * (c + 1) + y + noise
                    rgb[k] = UInt8(truncatingIfNeeded: value)
                }
                let bytes: [UInt8]
                let name: String
                switch i % 4 {
                case 0:
                    bytes = try encoder.encode(RGBImage(width: w, height: h, pixels: rgb), quality: 85)
                    name = "\(i).jpg"
                case 1:
                    bytes = png(width: w, height: h, colorType: 2, pixels: rgb)
                    name = "\(i).JPEG"  // a PNG named as a JPEG
                case 2:
                    bytes = png(
                        width: w, height: h, colorType: 0, pixels: stride(from: 0, to: rgb.count, by: 3).map { rgb[$0] }
                    )
                    name = "\(i).png"
                default:
                    var palette: [UInt8] = []
                    for v in 0..<256 { palette += [UInt8(v), UInt8(255 - v), UInt8(v / 2)] }
                    bytes = png(
                        width: w, height: h, colorType: 3,
                        pixels: stride(from: 0, to: rgb.count, by: 3).map { rgb[$0] }, palette: palette)
                    name = "\(i).PNG"
                }
                FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(bytes))
            }
        }
        FileManager.default.createFile(
            atPath: "\(root)/class1/corrupt.jpg", contents: Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]))
        FileManager.default.createFile(atPath: "\(root)/class2/notes.txt", contents: Data("x".utf8))
        try FileManager.default.createDirectory(atPath: "\(root)/empty", withIntermediateDirectories: true)
        return root
    }

    static func files(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))
        }
        return out
    }

    @Test func shardsDoNotDependOnThreadsAndResumeToTheSameBytes() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = try ImageSource(root: root)
        #expect(source.classes == ["class0", "class1", "class2", "empty"])
        #expect(source.notes.contains { $0.contains("empty: an empty class folder") })
        #expect(source.notes.contains { $0.contains("1 files skipped") })
        #expect(source.notes.first == "\(root): class folders, one split (train)")
        // A test folder (`--test-folder`) is announced as what it is read as.
        let asTest = try ImageSource(root: root, split: "val")
        #expect(asTest.notes.first == "\(root): class folders, one split (val)")
        #expect(asTest.splits.map(\.name) == ["val"] && asTest.splits[0].items == source.splits[0].items)
        var options = Preparer.Options()
        options.shardBytes = 100_000
        options.threads = 1
        let one = "\(root)-one", two = "\(root)-two", resumed = "\(root)-resumed"
        defer { for dir in [one, two, resumed] { try? FileManager.default.removeItem(atPath: dir) } }
        var lines: [String] = []
        let set = try Preparer(source: source, destination: one, options: options).run { lines.append($0) }
        #expect(set.splits["train"]!.map(\.records).reduce(0, +) == 18)
        #expect(lines.contains { $0.hasPrefix("skipped \(root)/class1/corrupt.jpg: not a readable JPEG image") })
        #expect(set.splits["train"]!.count >= 3, "several shards")
        options.threads = 3
        _ = try Preparer(source: source, destination: two, options: options).run { _ in }
        #expect(try Self.files(one) == Self.files(two), "3 threads write what 1 thread writes")

        options.interruptAfterShards = 2
        #expect(throws: DatasetError.self) {
            try Preparer(source: source, destination: resumed, options: options).run { _ in }
        }
        options.interruptAfterShards = nil
        var said: [String] = []
        _ = try Preparer(source: source, destination: resumed, options: options).run { said.append($0) }
        #expect(said.first?.hasPrefix("resuming: ") == true)
        #expect(try Self.files(one) == Self.files(resumed), "resumed = uninterrupted, byte for byte")

        // Every stored image decodes to 256 × 256, and the statistics are sane.
        let decoder = try ImageDecoder()
        let reader = try ShardReader(directory: one, shard: set.splits["train"]![0], classes: 4, verify: true)
        let image = try decoder.decode(Array(reader.bytes(of: 0)), path: "record 0")
        #expect(image.width == 256 && image.height == 256)
        #expect(set.mean.allSatisfy { (0...1).contains($0) } && set.std.allSatisfy { $0 > 0 })
        #expect(set.eigenvalues == set.eigenvalues.sorted(by: >) && set.eigenvalues.allSatisfy { $0 >= 0 })
    }

    @Test func failModeStopsAtTheFirstBadImageNamingIt() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var options = Preparer.Options()
        options.skipBadImages = false
        #expect {
            try Preparer(source: try ImageSource(root: root), destination: "\(root)-out", options: options).run { _ in }
        } throws: { "\($0)".hasPrefix("\(root)/class1/corrupt.jpg: not a readable JPEG image") }
        try? FileManager.default.removeItem(atPath: "\(root)-out")
    }

    /// ImageNet's layout: train/<wnid>/ class folders and a flat val/ labelled by Kaggle's
    /// LOC_val_solution.csv (or Caffe's val.txt), said which.
    @Test func imageNetLayoutWithAFlatValidationFolder() throws {
        let classes = try Self.tree()
        let root = classes + "-imagenet"
        defer { for dir in [classes, root] { try? FileManager.default.removeItem(atPath: dir) } }
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(root)/val", withIntermediateDirectories: true)
        try fm.moveItem(atPath: classes, toPath: "\(root)/train")
        try fm.removeItem(atPath: "\(root)/train/class1/corrupt.jpg")
        var csv = "ImageId,PredictionString\n"
        for (i, c) in [0, 2, 1].enumerated() {
            let name = "ILSVRC2012_val_0000000\(i + 1)"
            try fm.copyItem(atPath: "\(root)/train/class\(c)/0.jpg", toPath: "\(root)/val/\(name).JPEG")
            csv += "\(name),class\(c) 1 2 3 4 class\(c) 5 6 7 8\n"
        }
        fm.createFile(atPath: "\(root)/LOC_val_solution.csv", contents: Data(csv.utf8))
        let source = try ImageSource(root: root)
        #expect(source.splits.map(\.name) == ["train", "val"])
        #expect(source.splits[1].items.map(\.label) == [0, 2, 1])
        #expect(
            source.notes.contains {
                $0.contains("flat validation folder, 3 images labelled by \(root)/LOC_val_solution.csv")
            })
        // Caffe's val.txt, by index.
        try fm.removeItem(atPath: "\(root)/LOC_val_solution.csv")
        let text = "ILSVRC2012_val_00000001.JPEG 0\nILSVRC2012_val_00000002.JPEG 2\nILSVRC2012_val_00000003.JPEG 1\n"
        fm.createFile(atPath: "\(root)/val/val.txt", contents: Data(text.utf8))
        #expect(try ImageSource(root: root).splits[1].items.map(\.label) == [0, 2, 1])
        fm.createFile(atPath: "\(root)/val/val.txt", contents: Data("ILSVRC2012_val_00000001.JPEG 9\n".utf8))
        #expect { try ImageSource(root: root) } throws: {
            "\($0)" == "\(root)/val/val.txt: line 1: '9' is neither a class folder name nor a class index below 4"
        }
    }

    /// The eigen-decomposition of a known covariance.
    @Test func eigenDecompositionOfASymmetricMatrix() {
        let (values, vectors) = SymmetricEigen.decompose3([[2, 1, 0], [1, 2, 0], [0, 0, 5]])
        #expect(zip(values, [5.0, 3, 1]).allSatisfy { abs($0 - $1) < 1e-12 })
        // The eigenvector of 3 is (1, 1, 0)/√2, up to sign.
        #expect(abs(abs(vectors[0][1]) - 0.5.squareRoot()) < 1e-12 && abs(vectors[2][1]) < 1e-12)
    }
}
