import CZlib
import Foundation

/// Reads a whole file, inflating it when it is gzip-compressed (by zlib).
///
/// - Throws: `DatasetError` naming the file when it cannot be read, when the gzip stream is corrupt, or
///   when it ends early (a truncated download).
public func readMaybeGzip(_ path: String) throws -> [UInt8] {
    guard FileManager.default.fileExists(atPath: path) else {
        throw DatasetError(path, "no such file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DatasetError(path, "cannot be read")
    }
    let bytes = [UInt8](data)
    guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else { return bytes }
    return try inflateGzip(bytes, path: path)
}

/// The first size of the inflated buffer: the gzip trailer's last 4 bytes hold the uncompressed size modulo
/// 2³², trusted only up to 8 times the file's size plus 1 MiB (IDX data compresses 2–10:1), so a damaged or
/// truncated file cannot make the reader allocate more than a bounded multiple of its size; the buffer then
/// doubles with what is really inflated (deflate can expand 1032:1, and only real data is kept).
func inflatedSizeGuess(_ input: [UInt8]) -> Int {
    let bound = input.count * 8 + (1 << 20)
    guard input.count >= 18 else { return min(bound, max(1 << 16, input.count * 4)) }
    let n = input.count
    let isize = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
    return isize > 0 ? min(isize + 1, bound) : min(bound, max(1 << 16, input.count * 4))
}

func inflateGzip(_ input: [UInt8], path: String) throws -> [UInt8] {
    var stream = z_stream()
    guard czlib_inflate_init_gzip(&stream) == Z_OK else { throw DatasetError(path, "zlib could not start") }
    defer { inflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: inflatedSizeGuess(input))
    var produced = 0
    var status: Int32 = Z_OK
    try input.withUnsafeBufferPointer { source in
        stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress!)
        stream.avail_in = uInt(source.count)
        while true {
            if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
            status = output.withUnsafeMutableBufferPointer { target in
                stream.next_out = target.baseAddress! + produced
                stream.avail_out = uInt(target.count - produced)
                let status = inflate(&stream, Z_NO_FLUSH)
                produced = target.count - Int(stream.avail_out)
                return status
            }
            if status == Z_STREAM_END { break }
            if status == Z_BUF_ERROR && stream.avail_in == 0 {
                throw DatasetError(
                    path, "truncated gzip data: the stream ends after \(input.count) bytes, before its end marker")
            }
            if status != Z_OK && status != Z_BUF_ERROR {
                let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw DatasetError(path, "corrupt gzip data (\(message))")
            }
        }
    }
    output.removeSubrange(produced...)
    return output
}
