/// An 8-bit RGB image, pixels interleaved row by row: (H, W, 3).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// height · width · 3 bytes: R, G, B of (0, 0), (0, 1), …
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(
            width >= 1 && height >= 1 && pixels.count == width * height * 3,
            "RGBImage: \(width)×\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The region `x ..< x + width`, `y ..< y + height` (inside the image).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(
            x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= width && y + h <= height,
            "RGBImage: crop outside the image")
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for row in 0..<h {
            let from = ((y + row) * width + x) * 3
            out.replaceSubrange((row * w * 3)..<((row + 1) * w * 3), with: pixels[from..<(from + w * 3)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// The centre `size × size` square, placed as torchvision's `CenterCrop` places it (offsets rounded
    /// half to even, as Python's `round`).
    public func centreCropped(to size: Int) -> RGBImage {
        precondition(size <= width && size <= height, "RGBImage: centre crop larger than the image")
        let window = EvaluationCrops.centre(width: width, height: height, size: size)
        return cropped(x: window.x, y: window.y, width: size, height: size)
    }

    /// What `prepare` stores: resized (Pillow's anti-aliased bilinear) so the short side is `size`, then,
    /// when `square`, the centre `size × size` (torchvision's `Resize(size)` + `CenterCrop(size)`).
    public func prepared(size: Int, square: Bool) -> RGBImage {
        let target = shortSideSize(size)
        let image = Resample.resize(self, width: target.width, height: target.height)
        return square ? image.centreCropped(to: size) : image
    }

    /// The size torchvision's `Resize(size)` gives: the shorter side `size`, the longer scaled and truncated.
    public func shortSideSize(_ size: Int) -> (width: Int, height: Int) {
        if width <= height { return (size, Int(Double(size) * Double(height) / Double(width))) }
        return (Int(Double(size) * Double(width) / Double(height)), size)
    }
}
