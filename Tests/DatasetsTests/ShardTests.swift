import Foundation
import Testing

@testable import Datasets

/// Shards: records written in order, rolled over by size, read back through the checked index; damage is
/// an error naming the file and the entry.
@Suite struct ShardTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// 10 records of 30…120 bytes into shards of at least 200 bytes.
    static func write(_ dir: String) throws -> [ShardSet.Shard] {
        let writer = ShardWriter(directory: dir, split: "train", shardBytes: 200)
        for i in 0..<10 {
            try writer.append(
                [UInt8](repeating: UInt8(i), count: 30 + 10 * i), label: i % 3, width: 256, height: 256 + i)
        }
        try writer.finishShard()
        return writer.shards
    }

    @Test func recordsRoundTripThroughShards() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shards = try Self.write(dir)
        // 30 + … + 70 = 250, 80 + 90 + 100 = 270, 110 + 120 = 230 bytes.
        #expect(shards.map(\.name) == ["train-00000", "train-00001", "train-00002"])
        #expect(shards.map(\.bytes) == [250, 270, 230])
        #expect(shards.map(\.records).reduce(0, +) == 10 && shards.allSatisfy { $0.bytes >= 200 || $0 == shards.last })
        var i = 0
        for shard in shards {
            let reader = try ShardReader(directory: dir, shard: shard, classes: 3, verify: true)
            for j in reader.records.indices {
                #expect(Array(reader.bytes(of: j)) == [UInt8](repeating: UInt8(i), count: 30 + 10 * i))
                #expect(reader.records[j].label == UInt32(i % 3) && reader.records[j].height == UInt16(256 + i))
                i += 1
            }
        }
        #expect(i == 10)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "no temporary files: \(left)")
    }

    @Test func damagedShardsAreRefusedNamingTheFile() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shard = try Self.write(dir)[0]
        // A flipped data byte: the CRC says so (with verify).
        let data = "\(dir)/\(shard.name).data"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        bytes[5] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: data))
        #expect { try ShardReader(directory: dir, shard: shard, classes: 3, verify: true) } throws: {
            "\($0)".hasPrefix("\(data): CRC-32 ") && "\($0)".hasSuffix("the shard is damaged")
        }
        // A truncated data file.
        try bytes.prefix(bytes.count - 1).write(to: URL(fileURLWithPath: data))
        #expect { try ShardReader(directory: dir, shard: shard, classes: 3) } throws: {
            "\($0)"
                == "\(data): \(shard.bytes - 1) bytes, meta.json says \(shard.bytes) (an incomplete or replaced shard)"
        }
        try bytes.write(to: URL(fileURLWithPath: data))
        // An index whose second entry does not follow the first; a label beyond the classes.
        let index = "\(dir)/\(shard.name).index"
        var entries = [UInt8](try Data(contentsOf: URL(fileURLWithPath: index)))
        entries[ShardRecord.byteCount] &+= 1
        try Data(entries).write(to: URL(fileURLWithPath: index))
        #expect { try ShardReader(directory: dir, shard: shard, classes: 3) } throws: {
            "\($0)".hasPrefix("\(index): CRC-32 ") && "\($0)".hasSuffix("the index is damaged")
        }
        // Without the index's CRC-32 (a set prepared before it was recorded), the entries are still checked.
        var older = shard
        older.indexCRC32 = nil
        #expect { try ShardReader(directory: dir, shard: older, classes: 3) } throws: {
            "\($0)" == "\(index): entry 1 starts at byte 31, expected 30 (entries are contiguous)"
        }
        #expect { try ShardReader(directory: dir, shard: older, classes: 2) } throws: {
            "\($0)".contains("label 2, expected below 2 classes") || "\($0)".contains("entry 1 starts")
        }
    }
}
