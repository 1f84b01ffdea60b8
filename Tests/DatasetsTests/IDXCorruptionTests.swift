import CZlib
import Foundation
import TestSupport
import Testing

@testable import Datasets

/// gzip's file format (RFC 1952) around `bytes`, by zlib.
func gzipped(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(
        deflateInit2_(
            &stream, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            == Z_OK)
    defer { deflateEnd(&stream) }
    var input = bytes
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
    let written = input.withUnsafeMutableBufferPointer { input in
        output.withUnsafeMutableBufferPointer { output in
            stream.next_in = input.baseAddress
            stream.avail_in = UInt32(input.count)
            stream.next_out = output.baseAddress
            stream.avail_out = UInt32(output.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return output.count - Int(stream.avail_out)
        }
    }
    return Array(output.prefix(written))
}

/// The corrupt-input suite for IDX files, plain and gzip'd: every truncation, every bit of the header
/// (magic, type, rank, dimensions) and of gzip's header and trailer flipped.
@Suite struct IDXCorruptionTests {
    static let images = idxBytes(dims: [3, 4, 5], values: (0..<60).map { UInt8($0 * 3 % 256) })

    @Test func plainFilesRefuseEveryTruncationAndHeaderFlip() {
        let dir = ScratchDirectory()
        let path = "\(dir.path)/images-idx3-ubyte"
        let cases =
            Corruption.everyTruncation(of: Self.images) + Corruption.bitFlips(of: Self.images, in: 0..<16)
        let tally = Corruption.run(cases, atPath: path) { _ = try IDXFile(path: $0, rank: 3) }
        print("corrupt IDX: \(tally)")
        #expect(tally.accepted.isEmpty && tally.unclear.isEmpty, "\(tally.accepted) \(tally.unclear)")
        #expect(tally.slowest < Corruption.hang)
    }

    @Test func gzipFilesRefuseEveryTruncationAndEveryDamagedField() {
        let dir = ScratchDirectory()
        let path = "\(dir.path)/images-idx3-ubyte.gz"
        let packed = gzipped(Self.images)
        let good = Corruption.run([CorruptCase(name: "intact", bytes: packed)], atPath: path) {
            let values = try IDXFile(path: $0, rank: 3).values
            #expect(values == Array(Self.images.dropFirst(16)))
        }
        #expect(good.accepted.count == 1)
        let cut = Corruption.run(Corruption.everyTruncation(of: packed), atPath: path) {
            _ = try IDXFile(path: $0, rank: 3)
        }
        // gzip's header (10 bytes) and trailer (CRC-32, size): the text flag (bit 0 of byte 3), time stamp
        // (bytes 4–7), extra flags (8) and operating system (9) are informative, and a reader may ignore them.
        let fields =
            Array(Corruption.bitFlips(of: packed, in: 0..<10))
            + Corruption.bitFlips(of: packed, in: (packed.count - 8)..<packed.count)
        let flipped = Corruption.run(fields, atPath: path) { _ = try IDXFile(path: $0, rank: 3) }
        print("corrupt gzip'd IDX: truncations \(cut); header and trailer flips \(flipped)")
        #expect(cut.accepted.isEmpty && cut.unclear.isEmpty, "\(cut.accepted) \(cut.unclear)")
        #expect(flipped.unclear.isEmpty, "\(flipped.unclear)")
        let informative = Set(
            ["bit 0 of byte 3 flipped"] + (4..<10).flatMap { at in (0..<8).map { "bit \($0) of byte \(at) flipped" } })
        #expect(flipped.accepted.allSatisfy(informative.contains), "\(flipped.accepted)")
        #expect(cut.slowest < Corruption.hang && flipped.slowest < Corruption.hang)
    }
}
