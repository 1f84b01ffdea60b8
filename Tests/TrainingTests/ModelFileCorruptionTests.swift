import Compute
import Datasets
import Foundation
import TestSupport
import Testing

@testable import Training

/// The corrupt-input suite for model files (and so for checkpoints, which are model files with more
/// tensors): `small`'s file truncated at every structural boundary (the length field, the header, each
/// tensor's start and middle) and bits flipped: every bit of the length, a bit of every metadata byte and
/// of every 16th byte of the tensors' entries, and a bit in each tensor's data.
@Suite struct ModelFileCorruptionTests {
    @Test func damagedModelFilesAreRefusedNamingTheFile() throws {
        let path = NSTemporaryDirectory() + "corrupt-model-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let arena = AlexNet.small.makeArena()
        Initialization.he.apply(to: arena, model: .small, seed: 4)
        try ModelFile.save(
            path, model: .small, groups: 1, arena: arena, normalization: Normalization(mean: [0.286], std: [0.353]))
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let headerEnd = 8 + (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let file = try SafeTensors.File(path: path)
        var boundaries = [0, 4, 8, 9, headerEnd / 2, headerEnd - 1, headerEnd, headerEnd + 1, bytes.count - 1]
        var offset = headerEnd
        for name in file.shapes.keys.sorted() {
            let size = 4 * file.shapes[name]!.reduce(1, *)
            boundaries += [offset, offset + size / 2]
            offset += size
        }
        let dataFlips = boundaries.filter { $0 >= headerEnd && $0 < bytes.count }.map { at in
            var damaged = bytes
            damaged[at] ^= 0x10
            return CorruptCase(name: "bit 4 of byte \(at) flipped", bytes: damaged, position: at)
        }
        let weights = Corruption.run(dataFlips, atPath: path) { _ = try ModelFile.load($0) }
        #expect(weights.accepted.isEmpty && weights.unclear.isEmpty, "\(weights.accepted) \(weights.unclear)")
        let cut = Corruption.run(Corruption.truncations(of: bytes, at: boundaries), atPath: path) {
            _ = try ModelFile.load($0)
        }
        var flipped = Corruption.run(Corruption.bitFlips(of: bytes, in: 0..<8), atPath: path) {
            _ = try ModelFile.load($0)
        }
        #expect(flipped.accepted.isEmpty, "the length field: \(flipped.accepted)")
        // The metadata (a bit of each byte) and the tensors' entries (a bit of every 16th byte); every bit of
        // every header byte is flipped on a small file in SafeTensorsCorruptionTests.
        let metadataEnd = (8..<headerEnd).first { bytes[$0] == UInt8(ascii: "}") }! + 1
        let headerFlips =
            Array(Corruption.bitFlips(of: bytes, in: 8..<metadataEnd, bits: [5]))
            + Corruption.bitFlips(of: bytes, in: metadataEnd..<headerEnd, bits: [0]).enumerated().filter {
                $0.offset % 16 == 0
            }.map(\.element)
        flipped = Corruption.run(headerFlips, atPath: path) { _ = try ModelFile.load($0) }
        print("corrupt model files: truncations \(cut); header flips \(flipped); weight flips \(weights)")
        #expect(cut.accepted.isEmpty && cut.unclear.isEmpty, "\(cut.accepted) \(cut.unclear)")
        // Note [checksummed files]: nothing damaged reads as valid.
        #expect(flipped.accepted.isEmpty && flipped.unclear.isEmpty, "\(flipped.accepted) \(flipped.unclear)")
        #expect(cut.slowest < Corruption.hang && flipped.slowest < Corruption.hang)
    }
}
