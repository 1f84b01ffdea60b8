import Testing

@testable import Datasets

/// `Resample` computes what Pillow's `Image.resize(size, Image.BILINEAR)` computes, byte for byte.
@Suite struct ResampleTests {
    /// A 37×23 test card, the same in Swift and in the Python that printed the expected values:
    /// `(x·37 + y·91 + c·53 + (x·y) mod 17) mod 256`.
    static let card: RGBImage = {
        let w = 37, h = 23
        var pixels: [UInt8] = []
        for y in 0..<h {
            for x in 0..<w { for c in 0..<3 { pixels.append(UInt8((x * 37 + y * 91 + c * 53 + (x * y) % 17) % 256)) } }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }()

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    /// FNV-1a 64 of the resized bytes and their first pixels, as Pillow 13.0 printed them:
    /// `Image.fromarray(card).resize((w, h), Image.BILINEAR)` (reducing, enlarging, one axis, both).
    @Test(arguments: [
        (11, 7, 0xdd88_38db_b56d_dd5e as UInt64, [111, 124, 136, 132, 122, 127] as [UInt8]),
        (50, 40, 0x2b58_026c_ed64_cf38, [0, 53, 106, 23, 76, 129]),
        (37, 12, 0xaf81_7af3_a5e9_3a17, [60, 113, 136, 98, 121, 174]),
        (20, 23, 0x5012_3b46_ecde_f2b7, [23, 76, 129, 83, 136, 189]),
        (5, 61, 0x802d_c15b_5806_f6ee, [100, 128, 151, 114, 131, 114]),
        (256, 256, 0x6c2c_0265_0407_8c15, [0, 53, 106, 0, 53, 106]),
        (1, 1, 0xa2b0_0919_6ea4_7b1e, [127, 128, 128]),
    ])
    func resizingMatchesPillow(_ width: Int, _ height: Int, _ hash: UInt64, _ first: [UInt8]) {
        let out = Resample.resize(Self.card, width: width, height: height)
        #expect(out.width == width && out.height == height)
        #expect(Array(out.pixels.prefix(first.count)) == first)
        #expect(Self.fnv(out.pixels) == hash)
    }

    /// torchvision's `Resize(256)` and `CenterCrop(256)` geometry: the long side truncated, the crop's
    /// offsets rounded half to even.
    @Test func shortSideAndCentreCropFollowTorchvision() {
        let image = RGBImage(width: 500, height: 375, pixels: [UInt8](repeating: 0, count: 500 * 375 * 3))
        #expect(image.shortSideSize(256) == (341, 256))
        let tall = RGBImage(width: 3, height: 8, pixels: [UInt8](repeating: 0, count: 3 * 8 * 3))
        #expect(tall.shortSideSize(2) == (2, 5))
        // (8 − 3) / 2 = 2.5 rounds to 2 (half to even); (3 − 2) / 2 = 0.5 rounds to 0.
        var pixels = [UInt8](repeating: 0, count: 3 * 8 * 3)
        for y in 0..<8 { for x in 0..<3 { pixels[(y * 3 + x) * 3] = UInt8(10 * y + x) } }
        let crop = RGBImage(width: 3, height: 8, pixels: pixels).cropped(x: 0, y: 2, width: 3, height: 3)
        #expect(crop.centreCropped(to: 2).pixels[0] == 20)
        #expect(RGBImage(width: 3, height: 8, pixels: pixels).centreCropped(to: 3).pixels[0] == 20)
    }
}
