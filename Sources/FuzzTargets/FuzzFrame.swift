@testable import Collectives

/// A frame decoded as each kind, with and without zstd, into as many elements as the first byte says
/// (what a receiver expects comes from its own plan, never from the frame); then again with its CRC-32
/// made right, so that mutations reach the fields and payload behind the checksum.
func fuzzFrame(_ bytes: UnsafeRawBufferPointer) {
    guard let first = bytes.first else { return }
    var frame = [UInt8](bytes.dropFirst())
    let codec = FrameCodec()
    var output = [Float](repeating: 0, count: Int(first) * 16)
    func decodeAsEveryKind() {
        for kind in [FrameKind.fp32, .bf16, .fp16, .sparse] {
            for zstd in [false, true] {
                output.withUnsafeMutableBufferPointer { try? codec.decode(frame, kind: kind, zstd: zstd, into: $0) }
            }
        }
    }
    decodeAsEveryKind()
    guard frame.count >= FrameCodec.headerSize else { return }
    let crc = frame.withUnsafeBytes { frameChecksum($0, payloadLength: $0.count - FrameCodec.headerSize) }
    for i in 0..<4 { frame[28 + i] = UInt8(truncatingIfNeeded: crc >> (8 * i)) }
    decodeAsEveryKind()
}
