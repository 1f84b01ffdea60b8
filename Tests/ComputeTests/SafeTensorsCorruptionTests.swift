import Foundation
import TestSupport
import Testing

@testable import Compute

/// The corrupt-input suite for safetensors: every truncation and every bit flipped, read by
/// `SafeTensors.File` and then every tensor read; files of other writers (no checksum) too.
@Suite struct SafeTensorsCorruptionTests {
    /// Two tensors and metadata, as the writer makes them.
    static func good(_ path: String) throws -> [UInt8] {
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [-1, 0.5]
        try a.withUnsafeBufferPointer { a in
            try b.withUnsafeBufferPointer { b in
                try SafeTensors.write(
                    path,
                    entries: [.init(name: "a", shape: [2, 3], values: a), .init(name: "b", shape: [2], values: b)],
                    metadata: ["format": "test"])
            }
        }
        return [UInt8](FileManager.default.contents(atPath: path)!)
    }

    static func read(_ path: String) throws {
        let file = try SafeTensors.File(path: path)
        for (name, shape) in file.shapes {
            var values = [Float](repeating: 0, count: shape.reduce(1, *))
            try values.withUnsafeMutableBufferPointer { try file.read(name, into: $0) }
        }
    }

    /// A file as another writer makes it: no checksum.
    static func unchecked() -> [UInt8] {
        var header = Array(#"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let length = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        return length + header + [0, 0, 128, 63, 0, 0, 0, 64]
    }

    /// Without a checksum, a flip may leave a valid file only by changing a letter of a name or of the
    /// metadata, never a length, an offset, a shape or the JSON's structure.
    @Test func aFileWithoutChecksumRefusesEveryStructuralFlip() {
        let path = NSTemporaryDirectory() + "corrupt-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Self.unchecked()
        let headerEnd = 8 + Int(bytes[0])
        let cases = Corruption.everyTruncation(of: bytes) + Corruption.bitFlips(of: bytes, in: 0..<headerEnd)
        let tally = Corruption.run(cases, atPath: path, read: Self.read)
        print("corrupt safetensors without checksum: \(tally)")
        #expect(tally.unclear.isEmpty, "\(tally.unclear)")
        #expect(tally.acceptedPositions.isSubset(of: Corruption.letterPositions(bytes, in: 8..<headerEnd)))
    }

    /// Note [checksummed files]: every flipped bit of a file alexnet-dist wrote is refused.
    @Test func everyTruncationAndBitFlipIsRefusedNamingTheFile() throws {
        let path = NSTemporaryDirectory() + "corrupt-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = try Self.good(path)
        let cut = Corruption.run(Corruption.everyTruncation(of: bytes), atPath: path, read: Self.read)
        print("corrupt safetensors, truncations: \(cut)")
        #expect(cut.accepted.isEmpty && cut.unclear.isEmpty, "\(cut.accepted) \(cut.unclear)")
        let flipped = Corruption.run(Corruption.bitFlips(of: bytes, in: 0..<bytes.count), atPath: path, read: Self.read)
        print("corrupt safetensors, bit flips: \(flipped)")
        #expect(flipped.unclear.isEmpty, "\(flipped.unclear)")
        #expect(flipped.accepted.isEmpty, "\(flipped.accepted)")
        #expect(flipped.slowest < Corruption.hang && cut.slowest < Corruption.hang)
    }
}
