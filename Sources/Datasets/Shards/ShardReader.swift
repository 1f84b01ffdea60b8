import CZlib
import Foundation

/// One shard, memory-mapped, with its index checked against the data file and the set's description: the
/// bytes of record i are `bytes(of:)`, valid while the reader lives.
public final class ShardReader: @unchecked Sendable {
    public let path: String
    public let records: [ShardRecord]
    private let mapped: UnsafeMutableRawPointer?
    private let size: Int

    /// Opens `directory/<shard.name>.data` and `.index`; with `verify`, also checks the data's CRC-32
    /// (reads every byte).
    public init(directory: String, shard: ShardSet.Shard, classes: Int, verify: Bool = false) throws {
        path = "\(directory)/\(shard.name).data"
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DatasetError(path, "cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DatasetError(path, "cannot be read") }
        size = Int(info.st_size)
        guard size == shard.bytes else {
            throw DatasetError(path, "\(size) bytes, meta.json says \(shard.bytes) (an incomplete or replaced shard)")
        }
        let map = size > 0 ? mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0) : nil
        guard size == 0 || (map != nil && map != MAP_FAILED) else {
            throw DatasetError(path, "cannot be mapped: \(String(cString: strerror(errno)))")
        }
        mapped = map
        let indexPath = "\(directory)/\(shard.name).index"
        guard let index = FileManager.default.contents(atPath: indexPath) else {
            if let map { munmap(map, size) }
            throw DatasetError(indexPath, "cannot be read")
        }
        do {
            if let expected = shard.indexCRC32 {
                let crc = UInt32(
                    index.withUnsafeBytes {
                        crc32_z(crc32(0, nil, 0), $0.bindMemory(to: UInt8.self).baseAddress, $0.count)
                    })
                guard crc == expected else {
                    throw DatasetError(
                        indexPath,
                        "CRC-32 \(String(crc, radix: 16)), meta.json says \(String(expected, radix: 16)): the index is damaged"
                    )
                }
            }
            records = try ShardRecord.parseIndex([UInt8](index), dataSize: size, classes: classes, path: indexPath)
            guard records.count == shard.records else {
                throw DatasetError(indexPath, "\(records.count) entries, meta.json says \(shard.records)")
            }
            if verify, let map {
                let crc = crc32_z(crc32(0, nil, 0), map.assumingMemoryBound(to: UInt8.self), size)
                guard UInt32(crc) == shard.crc32 else {
                    throw DatasetError(
                        path,
                        "CRC-32 \(String(UInt32(crc), radix: 16)), meta.json says \(String(shard.crc32, radix: 16)): the shard is damaged"
                    )
                }
            }
        } catch {
            if let map { munmap(map, size) }
            throw error
        }
    }

    deinit { if let mapped { munmap(mapped, size) } }

    /// The stored bytes of record `i`.
    public func bytes(of i: Int) -> UnsafeRawBufferPointer {
        let r = records[i]
        return UnsafeRawBufferPointer(start: mapped! + Int(r.offset), count: Int(r.size))
    }
}
