import Foundation

/// Anti-aliased resizing, computed as Pillow's `Image.resize(size, Image.BILINEAR)` computes it (its
/// `Resample.c`): a triangle filter whose support grows with the reduction factor (so down-scaling
/// averages every source pixel it covers, instead of sampling and aliasing), weights normalised per output
/// pixel and rounded to 22-bit fixed point, a horizontal pass into a buffer of the rows needed, then a
/// vertical pass, each rounding and clamping to 8 bits. The same arithmetic, so the same bytes as PIL
/// (tests compare with values PIL printed).
public enum Resample {
    /// Fixed-point bits of a weight: 32 − 8 (a pixel) − 2 (headroom), as Pillow's `PRECISION_BITS`.
    static let precisionBits = 22

    /// Each output pixel's first source index, count, and fixed-point weights (`stride` per output).
    struct Coefficients {
        var first: [Int]
        var count: [Int]
        var weights: [Int32]
        var stride: Int
    }

    /// Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc` for a triangle (bilinear) filter, mapping
    /// `inSize` source pixels onto `outSize`.
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        var c = Coefficients(
            first: [Int](repeating: 0, count: outSize), count: [Int](repeating: 0, count: outSize),
            weights: [Int32](repeating: 0, count: outSize * stride), stride: stride)
        var k = [Double](repeating: 0, count: stride)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            // C's (int) truncates toward zero; the values are positive where it matters, as in Pillow.
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var sum = 0.0
            for x in 0..<xmax {
                var t = abs((Double(x + xmin) - center + 0.5) * ss)
                t = t < 1 ? 1 - t : 0
                k[x] = t
                sum += t
            }
            for x in 0..<stride {
                var w = x < xmax ? k[x] : 0
                if x < xmax && sum != 0 { w /= sum }
                let fixed = w * Double(1 << precisionBits)
                c.weights[xx * stride + x] = Int32(
                    w < 0 ? (-0.5 + fixed).rounded(.towardZero) : (0.5 + fixed).rounded(.towardZero))
            }
            c.first[xx] = xmin
            c.count[xx] = xmax
        }
        return c
    }

    /// A fixed-point sum back to a byte: Pillow's `clip8`.
    @inline(__always) static func clip8(_ sum: Int32) -> UInt8 {
        if sum >= Int32(1 << precisionBits) << 8 { return 255 }
        if sum <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: sum >> Int32(precisionBits))
    }

    /// `image` resized to `width × height`.
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width >= 1 && height >= 1, "Resample: empty output")
        var source = image
        let needHorizontal = width != image.width, needVertical = height != image.height
        let vertical = coefficients(inSize: image.height, outSize: height)
        if needHorizontal {
            // Only the rows the vertical pass will read.
            let firstRow = needVertical ? vertical.first[0] : 0
            let lastRow = needVertical ? vertical.first[height - 1] + vertical.count[height - 1] : image.height
            source = horizontal(image, width: width, rows: firstRow..<lastRow)
            if needVertical {
                var shifted = vertical
                for i in 0..<height { shifted.first[i] -= firstRow }
                return verticalPass(source, height: height, coefficients: shifted)
            }
            return source
        }
        return needVertical ? verticalPass(image, height: height, coefficients: vertical) : image
    }

    private static func horizontal(_ image: RGBImage, width: Int, rows: Range<Int>) -> RGBImage {
        let c = coefficients(inSize: image.width, outSize: width)
        var out = [UInt8](repeating: 0, count: width * rows.count * 3)
        let half = Int32(1 << (precisionBits - 1))
        image.pixels.withUnsafeBufferPointer { src in
            c.weights.withUnsafeBufferPointer { weights in
                for (r, y) in rows.enumerated() {
                    let row = y * image.width * 3
                    for xx in 0..<width {
                        let first = c.first[xx], k = xx * c.stride
                        var s0 = half, s1 = half, s2 = half
                        for x in 0..<c.count[xx] {
                            let p = row + (first + x) * 3, w = weights[k + x]
                            s0 &+= Int32(src[p]) &* w
                            s1 &+= Int32(src[p + 1]) &* w
                            s2 &+= Int32(src[p + 2]) &* w
                        }
                        let o = (r * width + xx) * 3
                        out[o] = clip8(s0)
                        out[o + 1] = clip8(s1)
                        out[o + 2] = clip8(s2)
                    }
                }
            }
        }
        return RGBImage(width: width, height: rows.count, pixels: out)
    }

    private static func verticalPass(_ image: RGBImage, height: Int, coefficients c: Coefficients) -> RGBImage {
        let width = image.width
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let half = Int32(1 << (precisionBits - 1))
        image.pixels.withUnsafeBufferPointer { src in
            c.weights.withUnsafeBufferPointer { weights in
                for yy in 0..<height {
                    let first = c.first[yy], k = yy * c.stride
                    for xx in 0..<width {
                        var s0 = half, s1 = half, s2 = half
                        for y in 0..<c.count[yy] {
                            let p = ((first + y) * width + xx) * 3, w = weights[k + y]
                            s0 &+= Int32(src[p]) &* w
                            s1 &+= Int32(src[p + 1]) &* w
                            s2 &+= Int32(src[p + 2]) &* w
                        }
                        let o = (yy * width + xx) * 3
                        out[o] = clip8(s0)
                        out[o + 1] = clip8(s1)
                        out[o + 2] = clip8(s2)
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
