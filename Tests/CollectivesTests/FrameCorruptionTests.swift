import TestSupport
import Testing

@testable import Collectives

/// The corrupt-input suite for the compressed allreduce's frames: every truncation and every bit flipped,
/// for each kind, plain and through zstd. The CRC-32 covers header and payload, so nothing damaged is
/// ever summed.
@Suite struct FrameCorruptionTests {
    /// Sparse frames are always compressed.
    @Test(arguments: [
        (FrameKind.fp32, false), (.fp32, true), (.bf16, false), (.bf16, true), (.fp16, false), (.fp16, true),
        (.sparse, true),
    ])
    func everyTruncationAndBitFlipIsRefused(_ kind: FrameKind, _ zstd: Bool) {
        let codec = FrameCodec()
        let values: [Float] = (0..<48).map { Float($0 % 7) * 0.25 - 0.5 }
        let frame = values.withUnsafeBufferPointer { values in
            if kind == .sparse {
                let indices: [UInt32] = [2, 9, 30], kept = indices.map { values[Int($0)] }
                return indices.withUnsafeBufferPointer { indices in
                    kept.withUnsafeBufferPointer {
                        codec.encodeSparse(count: values.count, indices: indices, values: $0, zstdLevel: 1)
                    }
                }
            }
            return codec.encode(values, as: kind, zstdLevel: zstd ? 1 : nil)
        }
        var output = [Float](repeating: 0, count: values.count)
        let cases = Corruption.everyTruncation(of: frame) + Corruption.bitFlips(of: frame, in: 0..<frame.count)
        let tally = Corruption.run(cases, naming: "") { bytes in
            try output.withUnsafeMutableBufferPointer { try codec.decode(bytes, kind: kind, zstd: zstd, into: $0) }
        }
        print("corrupt frames (\(kind)\(zstd ? "+zstd" : "")): \(tally)")
        #expect(tally.accepted.isEmpty && tally.unclear.isEmpty, "\(tally.accepted) \(tally.unclear)")
    }
}
