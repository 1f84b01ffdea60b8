import Foundation
import TestSupport
import Testing

@testable import Datasets

/// The corrupt-input suite for prepared shards: the index truncated at every byte and every bit of it
/// flipped (its CRC-32 in meta.json catches what the entries' own checks cannot, such as a label still
/// within the classes); the data file truncated at every record boundary; meta.json truncated at every byte.
@Suite struct ShardCorruptionTests {
    @Test func everyDamagedIndexOrDataFileIsRefusedNamingTheFile() throws {
        let dir = try ShardTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shard = try ShardTests.write(dir)[0]
        let indexPath = "\(dir)/\(shard.name).index", dataPath = "\(dir)/\(shard.name).data"
        let index = [UInt8](FileManager.default.contents(atPath: indexPath)!)
        let data = [UInt8](FileManager.default.contents(atPath: dataPath)!)
        func open(_: String) throws { _ = try ShardReader(directory: dir, shard: shard, classes: 3) }

        let indexCases = Corruption.everyTruncation(of: index) + Corruption.bitFlips(of: index, in: 0..<index.count)
        let damagedIndex = Corruption.run(indexCases, atPath: indexPath, read: open)
        FileManager.default.createFile(atPath: indexPath, contents: Data(index))
        let records = try ShardReader(directory: dir, shard: shard, classes: 3).records
        let boundaries = records.map { Int($0.offset) } + [1, data.count - 1]
        let damagedData = Corruption.run(Corruption.truncations(of: data, at: boundaries), atPath: dataPath, read: open)
        print("corrupt shard index: \(damagedIndex); data truncated at record boundaries: \(damagedData)")
        for tally in [damagedIndex, damagedData] {
            #expect(tally.accepted.isEmpty && tally.unclear.isEmpty, "\(tally.accepted) \(tally.unclear)")
            #expect(tally.slowest < Corruption.hang)
        }
    }

    @Test func everyTruncatedDescriptionIsRefusedNamingIt() throws {
        let dir = try ShardTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shards = try ShardTests.write(dir)
        let set = ShardSet(
            classes: ["a", "b", "c"], storage: .raw, size: 16, square: true, splits: ["train": shards],
            mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2], eigenvalues: [0.1, 0.01, 0.001],
            eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
        let meta = [UInt8](try JSONEncoder().encode(set))
        let tally = Corruption.run(Corruption.everyTruncation(of: meta), atPath: "\(dir)/meta.json") { _ in
            _ = try ShardExamples(directory: dir, split: "train", crop: 8)
        }
        print("corrupt meta.json, truncations: \(tally)")
        #expect(tally.accepted.isEmpty && tally.unclear.isEmpty, "\(tally.accepted) \(tally.unclear)")
    }
}
