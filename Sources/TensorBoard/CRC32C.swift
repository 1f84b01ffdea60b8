import CISAL

/// CRC-32C (Castagnoli), the checksum TensorBoard's record framing uses, computed by Intel ISA-L.
///
/// ISA-L's `crc32_iscsi` neither inverts its seed nor its result; the standard CRC-32C (RFC 3720: 0xE3069283
/// for "123456789") starts from all ones and inverts at the end.
public enum CRC32C {
    /// The standard CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        let start = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        // ISA-L takes an Int32 length: larger buffers in pieces, each continuing the last's raw CRC.
        var crc: UInt32 = 0xFFFF_FFFF, offset = 0
        repeat {
            let piece = min(bytes.count - offset, Int(Int32.max))
            crc = crc32_iscsi(start + offset, Int32(piece), crc)
            offset += piece
        } while offset < bytes.count
        return crc ^ 0xFFFF_FFFF
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }

    /// The masked form a record stores (TensorFlow's `crc32c::Mask`: a CRC of data that holds CRCs is
    /// weak, so the stored value is rotated right by 15 bits and offset).
    public static func masked(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    public static func masked(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { masked($0) } }
}
