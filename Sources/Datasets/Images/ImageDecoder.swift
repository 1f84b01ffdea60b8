import CPNGDecode
import CTurboJPEG
import Foundation

/// Decodes JPEG and PNG files to 8-bit RGB, choosing by the file's content, not its name (ImageNet's
/// training set holds a PNG named `.JPEG` and CMYK JPEGs), with the pixels Pillow's
/// `Image.open(f).convert("RGB")` gives: libjpeg-turbo's accurate integer IDCT and smooth upsampling (what
/// Pillow's libjpeg-turbo uses), grey replicated, CMYK converted by Pillow's formula, PNG palettes
/// expanded and alpha dropped. One decoder per thread (it holds a TurboJPEG handle).
/// Used by one thread at a time (each worker its own), hence `@unchecked Sendable`.
public final class ImageDecoder: @unchecked Sendable {
    public enum Format: String, Sendable { case jpeg = "JPEG", png = "PNG" }

    private let jpeg: tjhandle

    public init() throws {
        guard let handle = tjInitDecompress() else { throw DatasetError("libjpeg-turbo", "could not start a decoder") }
        jpeg = handle
    }

    deinit { tjDestroy(jpeg) }

    /// The format `bytes` hold, from their first bytes, or nil.
    public static func format(of bytes: UnsafeRawBufferPointer) -> Format? {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8 && Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
            return .png
        }
        return nil
    }

    /// Decodes `bytes` (the content of `path`, which errors name).
    public func decode(_ bytes: [UInt8], path: String) throws -> RGBImage {
        try bytes.withUnsafeBytes { raw in
            switch ImageDecoder.format(of: raw) {
            case .jpeg: return try decodeJPEG(raw, path: path)
            case .png: return try ImageDecoder.decodePNG(raw, path: path)
            case nil:
                throw DatasetError(
                    path,
                    "neither a JPEG nor a PNG image (the first bytes are \(raw.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")))"
                )
            }
        }
    }

    /// The largest side accepted, in pixels (ImageNet's largest images are a few thousand a side).
    public static let maximumSide = 1 << 15
    /// The most pixels accepted (Pillow refuses images over 2 × 89,478,485 pixels as decompression bombs):
    /// a few hundred bytes may claim 32768 × 32768, and their decoding would take 3 GiB.
    public static let maximumPixels = 1 << 27

    private func decodeJPEG(_ raw: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
        let base = raw.bindMemory(to: UInt8.self).baseAddress
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(jpeg, base, UInt(raw.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw DatasetError(path, "not a readable JPEG image (\(String(cString: tjGetErrorStr2(jpeg))))")
        }
        guard width >= 1, height >= 1 else {
            throw DatasetError(path, "not a readable JPEG image (no frame header: truncated or corrupt)")
        }
        guard width <= ImageDecoder.maximumSide, height <= ImageDecoder.maximumSide else {
            throw DatasetError(path, "JPEG of \(width)×\(height) pixels, expected 1…\(ImageDecoder.maximumSide) a side")
        }
        let w = Int(width), h = Int(height)
        guard w * h <= ImageDecoder.maximumPixels else {
            throw DatasetError(path, "JPEG of \(w)×\(h) pixels, more than the \(ImageDecoder.maximumPixels) accepted")
        }
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = cmyk ? 4 : 3
        var decoded = [UInt8](repeating: 0, count: w * h * channels)
        let status = decoded.withUnsafeMutableBufferPointer {
            tjDecompress2(
                jpeg, base, UInt(raw.count), $0.baseAddress, width, 0, height,
                Int32(cmyk ? TJPF_CMYK.rawValue : TJPF_RGB.rawValue), TJFLAG_ACCURATEDCT)
        }
        // A warning (a truncated scan, extraneous bytes) still decodes what there is, as Pillow's
        // LOAD_TRUNCATED_IMAGES would not: refuse it.
        guard status == 0 else {
            throw DatasetError(path, "corrupt or truncated JPEG data (\(String(cString: tjGetErrorStr2(jpeg))))")
        }
        guard cmyk else { return RGBImage(width: w, height: h, pixels: decoded) }
        return RGBImage(
            width: w, height: h, pixels: ImageDecoder.rgb(fromCMYK: decoded, inverted: ImageDecoder.hasAdobeMarker(raw))
        )
    }

    /// Pillow's CMYK → RGB: with nk = 255 − k, each channel is nk − c·nk/255 (rounded as Pillow rounds).
    /// Adobe's CMYK JPEGs store the inks inverted (Pillow reads them as "CMYK;I").
    static func rgb(fromCMYK cmyk: [UInt8], inverted: Bool) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: cmyk.count / 4 * 3)
        for i in 0..<(cmyk.count / 4) {
            func ink(_ j: Int) -> Int { inverted ? 255 - Int(cmyk[4 * i + j]) : Int(cmyk[4 * i + j]) }
            let nk = 255 - ink(3)
            for j in 0..<3 {
                let t = ink(j) * nk + 128
                rgb[3 * i + j] = UInt8(clamping: nk - (((t >> 8) + t) >> 8))
            }
        }
        return rgb
    }

    /// Whether the JPEG has an Adobe APP14 segment before its first scan.
    static func hasAdobeMarker(_ raw: UnsafeRawBufferPointer) -> Bool {
        var i = 2
        while i + 4 <= raw.count, raw[i] == 0xFF {
            let marker = raw[i + 1]
            if marker == 0xDA || marker == 0xD9 { return false }  // start of scan, end of image
            let length = Int(raw[i + 2]) << 8 | Int(raw[i + 3])
            if marker == 0xEE, length >= 7, i + 9 <= raw.count,
                Array(raw[(i + 4)..<(i + 9)]) == Array("Adobe".utf8)
            {
                return true
            }
            i += 2 + length
        }
        return false
    }

    private static func decodePNG(_ raw: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: UInt32 = 0, height: UInt32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = png_decode_rgb(
            raw.bindMemory(to: UInt8.self).baseAddress, raw.count, UInt64(ImageDecoder.maximumPixels), &pixels, &width,
            &height, &message, message.count)
        guard status == 0, let pixels else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DatasetError(path, "corrupt or truncated PNG data (\(text))")
        }
        defer { free(pixels) }
        let count = Int(width) * Int(height) * 3
        return RGBImage(
            width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }
}
