import CTurboJPEG
import Foundation
import Testing

@testable import Datasets

/// Encodes a solid-colour RGB image as JPEG (quality 95, no chroma subsampling) with libjpeg-turbo.
func solidJPEG(width: Int, height: Int, rgb: (UInt8, UInt8, UInt8)) -> [UInt8] {
    let pixels = (0..<(width * height)).flatMap { _ in [rgb.0, rgb.1, rgb.2] }
    let handle = tjInitCompress()!
    defer { tjDestroy(handle) }
    var buffer: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    let status = tjCompress2(
        handle, pixels, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue), &buffer, &size,
        Int32(TJSAMP_444.rawValue), 95, 0)
    precondition(status == 0, "tjCompress2 failed")
    defer { tjFree(buffer) }
    return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
}

@Suite struct JPEGFolderTests {
    func makeFolder() -> ScratchDirectory {
        let dir = ScratchDirectory()
        let layout: [(String, [(String, (UInt8, UInt8, UInt8))])] = [
            ("cat", [("a.jpg", (200, 30, 30)), ("b.JPEG", (190, 40, 20))]), ("dog", [("c.jpeg", (20, 30, 220))]),
        ]
        for (folder, files) in layout {
            try! FileManager.default.createDirectory(atPath: "\(dir.path)/\(folder)", withIntermediateDirectories: true)
            for (name, colour) in files {
                _ = dir.write("\(folder)/\(name)", solidJPEG(width: 40, height: 24, rgb: colour))
            }
        }
        _ = dir.write("cat/notes.txt", Array("not an image".utf8))
        return dir
    }

    @Test func decodesResizesAndLabelsByFolder() throws {
        let dir = makeFolder()
        let (set, names) = try JPEGFolder.load(root: dir.path, size: 16)
        #expect(names == ["cat", "dog"])
        #expect(set.labels == [0, 0, 1])
        #expect(set.imageShape == [3, 16, 16])
        // Image 0 is solid (200, 30, 30): every pixel of each plane within JPEG's error.
        let red = set.pixels[0..<256], green = set.pixels[256..<512], blue = set.pixels[512..<768]
        #expect(
            red.allSatisfy { abs(Int($0) - 200) <= 4 } && green.allSatisfy { abs(Int($0) - 30) <= 4 }
                && blue.allSatisfy { abs(Int($0) - 30) <= 4 })
    }

    @Test func labelsATestFolderWithTheTrainingClasses() throws {
        let dir = makeFolder()
        let (set, _) = try JPEGFolder.load(
            root: dir.path, size: 8, classNames: ["ant", "cat", "dog"], limitPerClass: 1)
        #expect(set.labels == [1, 2])
        #expect(set.classes == 3)
        #expect(throws: DatasetError("\(dir.path)/dog", "class 'dog' is not among the 1 training classes")) {
            try JPEGFolder.load(root: dir.path, size: 8, classNames: ["cat"])
        }
    }

    @Test func namesATruncatedImage() throws {
        let dir = makeFolder()
        let jpeg = solidJPEG(width: 40, height: 24, rgb: (1, 2, 3))
        let path = dir.write("dog/broken.jpg", Array(jpeg.prefix(jpeg.count / 2)))
        let error = #expect(throws: DatasetError.self) { try JPEGFolder.load(root: dir.path, size: 8) }
        #expect(error?.path == path)
    }

    @Test func namesAMissingOrEmptyRoot() throws {
        #expect(throws: DatasetError("/nonexistent/imagenet", "no such directory")) {
            try JPEGFolder.load(root: "/nonexistent/imagenet", size: 8)
        }
        let empty = ScratchDirectory()
        #expect(throws: DatasetError(empty.path, "no class folders (expected ROOT/<class>/<image>.jpg)")) {
            try JPEGFolder.load(root: empty.path, size: 8)
        }
    }
}
