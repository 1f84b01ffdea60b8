import CTurboJPEG
import Foundation
import Testing

@testable import Datasets

/// `ImageDecoder` picks the decoder by content and refuses damaged files naming them. (Pixel equality with
/// Pillow was checked on JPEGs with 4:2:0, 4:2:2 and 4:4:4 subsampling, grey and Adobe CMYK, and on RGB,
/// RGBA, grey and palette PNGs: all identical; docs/NOTES.md, issue 14.)
@Suite struct ImageDecoderTests {
    /// A JPEG of a smooth 40×30 image, made by libjpeg-turbo.
    static func jpeg(width: Int = 40, height: Int = 30) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in rgb.indices { rgb[i] = UInt8((i * 7 / 3) % 251) }
        let handle = tjInitCompress()!
        defer { tjDestroy(handle) }
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = tjCompress2(
            handle, rgb, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue), &out, &size,
            Int32(TJSAMP_420.rawValue), 90, 0)
        precondition(status == 0)
        defer { tjFree(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }

    @Test func theFormatComesFromTheContentNotTheName() throws {
        let decoder = try ImageDecoder()
        let image = try decoder.decode(Self.jpeg(), path: "n01440764/a.png")
        #expect(image.width == 40 && image.height == 30)
        #expect(Self.jpeg().withUnsafeBytes { ImageDecoder.format(of: $0) } == .jpeg)
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]
        #expect(png.withUnsafeBytes { ImageDecoder.format(of: $0) } == .png)
    }

    /// Damaged files: one error naming the file and what is wrong.
    @Test func damagedFilesAreErrorsNamingTheFile() throws {
        let decoder = try ImageDecoder()
        let jpeg = Self.jpeg()
        #expect {
            try decoder.decode(Array(jpeg.prefix(jpeg.count / 2)), path: "cut.jpg")
        } throws: { "\($0)".hasPrefix("cut.jpg: corrupt or truncated JPEG data") }
        #expect {
            try decoder.decode(Array("GIF89a".utf8), path: "x.gif")
        } throws: { "\($0)" == "x.gif: neither a JPEG nor a PNG image (the first bytes are 47 49 46 38)" }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48]
        #expect {
            try decoder.decode(png, path: "cut.png")
        } throws: { "\($0)".hasPrefix("cut.png: corrupt or truncated PNG data") }
    }

    /// Pillow's CMYK → RGB, with Adobe's inverted inks: white paper (no ink) is white, full black ink is black.
    @Test func cmykConvertsAsPillowDoes() {
        // Inverted storage: 255 means no ink.
        #expect(ImageDecoder.rgb(fromCMYK: [255, 255, 255, 255], inverted: true) == [255, 255, 255])
        #expect(ImageDecoder.rgb(fromCMYK: [255, 255, 255, 0], inverted: true) == [0, 0, 0])
        // Half cyan, no black: nk = 255, red = 255 − 128·255/255.
        #expect(ImageDecoder.rgb(fromCMYK: [127, 255, 255, 255], inverted: true) == [127, 255, 255])
        #expect(ImageDecoder.rgb(fromCMYK: [0, 0, 0, 0], inverted: false) == [255, 255, 255])
    }
}
