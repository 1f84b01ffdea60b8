import CCodecKernels
import CZlib
import CZstd

/// The kinds of payload a frame carries.
enum FrameKind: UInt8, CustomStringConvertible {
    case fp32 = 0
    /// bfloat16, round to nearest even.
    case bf16 = 1
    /// IEEE half of the values times 2^parameter.
    case fp16 = 2
    /// `parameter` entries: ascending indices (delta-coded, UInt32) then their fp32 values; zeros elsewhere.
    case sparse = 3

    var description: String { ["fp32", "bf16", "fp16", "sparse"][Int(rawValue)] }
}

/// A frame that cannot be decoded: corrupt, truncated, or not what the receiver expected.
struct FrameError: Error {
    let problem: String
}

/// Encodes and decodes frames: a 32-byte header, then the payload (optionally byte-shuffled and zstd-compressed).
///
///     offset  field
///      0      magic "AXF1"
///      4      kind (FrameKind), UInt8
///      5      flags, UInt8: bit 0 = payload is byte-shuffled and zstd-compressed
///      6      reserved, 0 (UInt16)
///      8      element count, UInt64
///     16      parameter, Int64: fp16's scale exponent, sparse's number of entries, else 0
///     24      payload length in bytes, UInt32
///     28      CRC-32 (zlib) of bytes 0..<28 and of the payload
///
/// All fields are little-endian. The receiver knows what to expect (kind, zstd, count) and checks every
/// field, so a corrupt or mismatched frame is an error and never summed. Holds zstd contexts and scratch
/// space, so one instance serves one thread.
final class FrameCodec {
    static let headerSize = 32
    private static let magic: UInt32 = 0x3146_5841  // "AXF1"

    private let compression: OpaquePointer
    private let decompression: OpaquePointer
    /// The value stage's output (encoding) or input (decoding), before shuffling.
    private let raw = ScratchBytes()
    /// The byte-shuffled form zstd sees.
    private let shuffled = ScratchBytes()

    init() {
        guard let c = ZSTD_createCCtx(), let d = ZSTD_createDCtx() else {
            fatalError("FrameCodec: zstd could not allocate its contexts")
        }
        compression = c
        decompression = d
    }

    deinit {
        ZSTD_freeCCtx(compression)
        ZSTD_freeDCtx(decompression)
    }

    // MARK: Encoding

    /// A dense frame of `values`. For fp16 the scale exponent is chosen so the largest magnitude lands in
    /// [2¹⁴, 2¹⁵): no overflow, and the values keep half's full precision.
    func encode(_ values: UnsafeBufferPointer<Float>, as kind: FrameKind, zstdLevel: Int?) -> [UInt8] {
        precondition(kind != .sparse, "FrameCodec.encode: sparse frames are made by encodeSparse")
        let n = values.count
        let width = kind == .fp32 ? 4 : 2
        return frame(kind: kind, count: n, zstdLevel: zstdLevel, width: width, rawSize: n * width) { raw in
            let halves = raw.baseAddress?.assumingMemoryBound(to: UInt16.self)
            switch kind {
            case .fp32:
                if n > 0 { raw.copyMemory(from: UnsafeRawBufferPointer(values)) }
            case .bf16:
                codec_f32_to_bf16(values.baseAddress, halves, n)
            case .fp16:
                let exponent = fp16Exponent(maxAbs: codec_max_abs(values.baseAddress, n))
                codec_f32_to_f16_scaled(values.baseAddress, halves, n, Int32(exponent))
                return exponent
            case .sparse:
                break
            }
            return 0
        }
    }

    /// A sparse frame for a segment of `count` elements holding `values[j]` at `indices[j]` (ascending).
    func encodeSparse(
        count: Int, indices: UnsafeBufferPointer<UInt32>, values: UnsafeBufferPointer<Float>, zstdLevel: Int
    )
        -> [UInt8]
    {
        let m = indices.count
        return frame(kind: .sparse, count: count, zstdLevel: zstdLevel, width: 4, rawSize: 8 * m) { raw in
            let words = raw.bindMemory(to: UInt32.self)
            var previous: UInt32 = 0
            for j in 0..<m {
                words[j] = indices[j] &- previous
                previous = indices[j]
                words[m + j] = values[j].bitPattern
            }
            return m
        }
    }

    /// Writes header and payload; `fill` writes the raw payload and returns the header's parameter.
    private func frame(
        kind: FrameKind, count: Int, zstdLevel: Int?, width: Int, rawSize: Int,
        fill: (UnsafeMutableRawBufferPointer) -> Int
    ) -> [UInt8] {
        let h = FrameCodec.headerSize
        let capacity = h + (zstdLevel == nil ? rawSize : ZSTD_compressBound(rawSize))
        return [UInt8](unsafeUninitializedCapacity: capacity) { out, written in
            let all = UnsafeMutableRawBufferPointer(out)
            let payload = UnsafeMutableRawBufferPointer(rebasing: all[h...])
            var parameter = 0
            var length = rawSize
            if let level = zstdLevel {
                let r = raw.bytes(rawSize), s = shuffled.bytes(rawSize)
                parameter = fill(r)
                codec_shuffle(r.baseAddress, s.baseAddress, rawSize / width, width)
                length = ZSTD_compressCCtx(
                    compression, payload.baseAddress, payload.count, s.baseAddress, rawSize, Int32(level))
                precondition(ZSTD_isError(length) == 0, "FrameCodec: zstd failed with a large enough buffer")
            } else {
                parameter = fill(UnsafeMutableRawBufferPointer(rebasing: payload[0..<rawSize]))
            }
            all.storeBytes(of: FrameCodec.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            all.storeBytes(of: kind.rawValue, toByteOffset: 4, as: UInt8.self)
            all.storeBytes(of: zstdLevel == nil ? 0 : 1, toByteOffset: 5, as: UInt8.self)
            all.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
            all.storeBytes(of: UInt64(count).littleEndian, toByteOffset: 8, as: UInt64.self)
            all.storeBytes(of: Int64(parameter).littleEndian, toByteOffset: 16, as: Int64.self)
            all.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 24, as: UInt32.self)
            let crc = frameChecksum(UnsafeRawBufferPointer(all), payloadLength: length)
            all.storeBytes(of: crc.littleEndian, toByteOffset: 28, as: UInt32.self)
            written = h + length
        }
    }

    // MARK: Decoding

    /// Decodes `frame`, which must be of `kind`, compressed iff `zstd`, and hold `output.count` elements,
    /// into `output` (every element written).
    func decode(
        _ frame: [UInt8], kind: FrameKind, zstd: Bool, into output: UnsafeMutableBufferPointer<Float>
    )
        throws
    {
        let h = FrameCodec.headerSize
        let n = output.count
        guard frame.count >= h else {
            throw FrameError(problem: "\(frame.count) bytes, shorter than the \(h)-byte frame header")
        }
        let header = frame.withUnsafeBytes { bytes in
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
            return (
                magic: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
                kind: bytes[4], flags: bytes[5],
                reserved: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self),
                count: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                parameter: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: Int64.self)),
                length: length,
                crc: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 28, as: UInt32.self)),
                computed: frameChecksum(bytes, payloadLength: min(length, bytes.count - h))
            )
        }
        guard header.magic == FrameCodec.magic else {
            throw FrameError(problem: "bad magic 0x\(String(header.magic, radix: 16)), not a frame")
        }
        guard header.length == frame.count - h else {
            throw FrameError(problem: "header says \(header.length) payload bytes, the frame holds \(frame.count - h)")
        }
        guard header.crc == header.computed else {
            throw FrameError(
                problem: "checksum mismatch (header 0x\(String(header.crc, radix: 16)), "
                    + "contents 0x\(String(header.computed, radix: 16))): the frame is corrupt")
        }
        guard let actualKind = FrameKind(rawValue: header.kind) else {
            throw FrameError(problem: "unknown codec id \(header.kind)")
        }
        guard actualKind == kind, header.flags == (zstd ? 1 : 0), header.reserved == 0 else {
            throw FrameError(
                problem: "codec \(actualKind)\(header.flags & 1 == 1 ? "+zstd" : "") (flags \(header.flags)), "
                    + "expected \(kind)\(zstd ? "+zstd" : "")")
        }
        guard header.count == UInt64(n) else {
            throw FrameError(problem: "\(header.count) elements, expected \(n)")
        }
        let width = kind == .fp32 || kind == .sparse ? 4 : 2
        let rawSize: Int
        if kind == .sparse {
            guard header.parameter >= 0, header.parameter <= Int64(n) else {
                throw FrameError(problem: "\(header.parameter) sparse entries for \(n) elements")
            }
            rawSize = 8 * Int(header.parameter)
        } else {
            rawSize = n * width
        }
        if kind == .fp16 {
            guard (-126...127).contains(header.parameter) else {
                throw FrameError(problem: "fp16 scale exponent \(header.parameter) is out of range")
            }
        }
        try frame.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            let payload = UnsafeRawBufferPointer(rebasing: bytes[h...])
            let values: UnsafeRawBufferPointer
            if zstd {
                let expected = ZSTD_getFrameContentSize(payload.baseAddress, payload.count)
                guard expected == UInt64(rawSize) else {
                    throw FrameError(
                        problem: "zstd payload holds \(Int64(bitPattern: expected)) bytes, expected \(rawSize)")
                }
                let s = shuffled.bytes(rawSize), r = raw.bytes(rawSize)
                let got = ZSTD_decompressDCtx(decompression, s.baseAddress, rawSize, payload.baseAddress, payload.count)
                guard ZSTD_isError(got) == 0, got == rawSize else {
                    let why = ZSTD_isError(got) != 0 ? String(cString: ZSTD_getErrorName(got)) : "\(got) bytes"
                    throw FrameError(problem: "zstd could not decompress the payload (\(why))")
                }
                codec_unshuffle(s.baseAddress, r.baseAddress, rawSize / width, width)
                values = UnsafeRawBufferPointer(r)
            } else {
                guard payload.count == rawSize else {
                    throw FrameError(problem: "payload of \(payload.count) bytes, expected \(rawSize)")
                }
                values = payload
            }
            try decodeValues(values, kind: kind, parameter: Int(header.parameter), into: output)
        }
    }

    private func decodeValues(
        _ raw: UnsafeRawBufferPointer, kind: FrameKind, parameter: Int, into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        let n = output.count
        switch kind {
        case .fp32:
            if n > 0 { UnsafeMutableRawBufferPointer(output).copyMemory(from: raw) }
        case .bf16:
            codec_bf16_to_f32(raw.baseAddress?.assumingMemoryBound(to: UInt16.self), output.baseAddress, n)
        case .fp16:
            codec_f16_to_f32_scaled(
                raw.baseAddress?.assumingMemoryBound(to: UInt16.self), output.baseAddress, n, Int32(parameter))
        case .sparse:
            let m = parameter
            output.update(repeating: 0)
            var index = 0
            for j in 0..<m {
                let delta = Int(raw.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))
                index = j == 0 ? delta : index + delta
                guard (j == 0 || delta > 0), index < n else {
                    throw FrameError(problem: "sparse entry \(j) has index \(index), not ascending within 0..<\(n)")
                }
                output[index] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * (m + j), as: UInt32.self))
            }
        }
    }
}

/// The scale exponent e for fp16 frames: max|x|·2^e lands in [2¹⁴, 2¹⁵) (0 for all zeros, inf or NaN).
func fp16Exponent(maxAbs: Float) -> Int {
    guard maxAbs > 0, maxAbs.isFinite else { return 0 }
    return min(max(14 - Int(maxAbs.exponent), -126), 127)
}

/// CRC-32 of the header's first 28 bytes and of the `payloadLength` bytes after the header.
func frameChecksum(_ frame: UnsafeRawBufferPointer, payloadLength: Int) -> UInt32 {
    let base = frame.baseAddress!.assumingMemoryBound(to: UInt8.self)
    var crc = crc32_z(0, base, 28)
    if payloadLength > 0 { crc = crc32_z(crc, base + FrameCodec.headerSize, payloadLength) }
    return UInt32(truncatingIfNeeded: crc)
}

/// A growable scratch area that keeps its largest allocation.
final class ScratchBytes {
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// At least `count` bytes (contents unspecified), valid until the next call.
    func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if storage.count < count {
            storage.deallocate()
            storage = .allocate(byteCount: max(count, 64), alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
    }

    deinit { storage.deallocate() }
}
