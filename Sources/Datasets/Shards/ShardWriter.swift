import CZlib
import Compute
import Foundation

/// Writes one split's records into shards of about `shardBytes` each, in order: `SPLIT-NNNNN.data` and
/// `.index`, each written atomically (a shard is there whole or not at all), the data file's CRC-32 kept.
public final class ShardWriter {
    public let directory: String
    public let split: String
    public let shardBytes: Int
    /// The shards completed so far.
    public private(set) var shards: [ShardSet.Shard] = []
    private var data: AtomicFile.Writer?
    private var index: [UInt8] = []
    private var crc: UInt = 0
    private var records = 0

    /// - Parameter first: the number of the first shard to write (a resumed `prepare` continues after the
    ///   shards it kept, given in `done`).
    public init(directory: String, split: String, shardBytes: Int, done: [ShardSet.Shard] = []) {
        self.directory = directory
        self.split = split
        self.shardBytes = shardBytes
        shards = done
    }

    public static func name(split: String, number: Int) -> String {
        "\(split)-\(String(repeating: "0", count: max(0, 5 - String(number).count)))\(number)"
    }

    /// Appends one image's stored bytes with its label and size.
    public func append(_ bytes: [UInt8], label: Int, width: Int, height: Int) throws {
        precondition(!bytes.isEmpty && bytes.count <= Int(UInt32.max), "ShardWriter: record size")
        if data == nil {
            let name = ShardWriter.name(split: split, number: shards.count)
            data = try AtomicFile.Writer("\(directory)/\(name).data")
            crc = crc32(0, nil, 0)
        }
        let offset = UInt64(data!.count)
        try data!.append(bytes)
        crc = bytes.withUnsafeBufferPointer { crc32_z(crc, $0.baseAddress, $0.count) }
        ShardRecord(
            offset: offset, size: UInt32(bytes.count), label: UInt32(label), width: UInt16(width),
            height: UInt16(height)
        ).append(to: &index)
        records += 1
        if data!.count >= shardBytes { try finishShard() }
    }

    /// Completes the shard being written, if any (call once after the last record).
    public func finishShard() throws {
        guard let writer = data else { return }
        let name = ShardWriter.name(split: split, number: shards.count)
        let size = writer.count
        try writer.commit()
        try AtomicFile.write("\(directory)/\(name).index", data: index)
        let indexCRC = index.withUnsafeBufferPointer { crc32_z(crc32(0, nil, 0), $0.baseAddress, $0.count) }
        shards.append(
            ShardSet.Shard(
                name: name, records: records, bytes: size, crc32: UInt32(crc), indexCRC32: UInt32(indexCRC)))
        data = nil
        index = []
        records = 0
    }
}
