import CZlib
import Foundation
import TestSupport
import Testing

@testable import Datasets

/// A PNG of `width` × `height` 8-bit RGB pixels, chunk by chunk (signature, IHDR, IDAT, IEND).
func pngBytes(width: Int, height: Int) -> [UInt8] {
    func be32(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        let crc = typed.withUnsafeBufferPointer { crc32_z(0, $0.baseAddress, $0.count) }
        return be32(body.count) + typed + be32(Int(crc))
    }
    var rows: [UInt8] = []
    for y in 0..<height {
        rows.append(0)
        for x in 0..<width { rows += [UInt8(x * 9 % 256), UInt8(y * 13 % 256), UInt8((x + y) * 5 % 256)] }
    }
    var packed = [UInt8](repeating: 0, count: Int(compressBound(UInt(rows.count))))
    var size = UInt(packed.count)
    precondition(compress(&packed, &size, rows, UInt(rows.count)) == Z_OK)
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        + chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0])
        + chunk("IDAT", Array(packed.prefix(Int(size)))) + chunk("IEND", [])
}

/// The corrupt-input suite for images: JPEGs and PNGs truncated at every byte, and every bit of their
/// headers flipped (JPEG's markers up to the scan's data, PNG's signature and IHDR). A flip may leave a
/// valid image (a JPEG quantisation value, a PNG's dimension with a bad CRC that libpng reports); anything
/// else is one error naming the file.
@Suite struct ImageCorruptionTests {
    static func decodeAll(_ cases: some Sequence<CorruptCase>) throws -> Corruption.Tally {
        let decoder = try ImageDecoder()
        return Corruption.run(cases, naming: "image.bin") { bytes in
            let image = try decoder.decode(bytes, path: "image.bin")
            precondition(image.pixels.count == image.width * image.height * 3)
        }
    }

    @Test func jpegTruncationsAndHeaderFlips() throws {
        let jpeg = ImageDecoderTests.jpeg(width: 24, height: 20)
        // The headers end where the scan's entropy-coded data begins: after the SOS segment (FF DA, length).
        let sos = (0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA }!
        let headerEnd = sos + 2 + Int(jpeg[sos + 2]) << 8 + Int(jpeg[sos + 3])
        let cut = try Self.decodeAll(Corruption.everyTruncation(of: jpeg))
        let flipped = try Self.decodeAll(Corruption.bitFlips(of: jpeg, in: 0..<headerEnd))
        print("corrupt JPEG: truncations \(cut); header flips \(flipped)")
        #expect(cut.accepted.isEmpty && cut.unclear.isEmpty, "\(cut.accepted) \(cut.unclear)")
        #expect(flipped.unclear.isEmpty && flipped.refused > 0, "\(flipped.unclear)")
        #expect(cut.slowest < Corruption.hang && flipped.slowest < Corruption.hang)
    }

    @Test func pngTruncationsAndHeaderFlips() throws {
        let png = pngBytes(width: 9, height: 7)
        let cut = try Self.decodeAll(Corruption.everyTruncation(of: png))
        // Signature, IHDR's length, type, fields and CRC: bytes 0..<33.
        let flipped = try Self.decodeAll(Corruption.bitFlips(of: png, in: 0..<33))
        print("corrupt PNG: truncations \(cut); header flips \(flipped)")
        #expect(cut.accepted.isEmpty && cut.unclear.isEmpty, "\(cut.accepted) \(cut.unclear)")
        #expect(flipped.accepted.isEmpty && flipped.unclear.isEmpty, "\(flipped.accepted) \(flipped.unclear)")
        #expect(cut.slowest < Corruption.hang && flipped.slowest < Corruption.hang)
    }
}
