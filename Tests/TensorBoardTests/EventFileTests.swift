import Foundation
import Testing

@testable import TensorBoard

@Suite struct EventFileTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// ISA-L's CRC as the standard CRC-32C (RFC 3720's check value, its 32 zero bytes), and the masked form
    /// TensorBoard's own tests check on a whole `Event` (tensorboard/data/server/masked_crc.rs).
    @Test func crc32cMatchesTheStandardAndTensorBoardsVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.masked([0x1A, 0x11] + Array("CRC test, one two".utf8)) == 0x5794_D08A)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// A record: the length (little-endian), its masked CRC, the data, the data's masked CRC.
    @Test func aRecordIsFramedAsTFRecord() {
        let data: [UInt8] = [1, 2, 3]
        let record = EventFileWriter.record(data)
        #expect(record.count == 8 + 4 + 3 + 4)
        #expect(Array(record[0..<8]) == [3, 0, 0, 0, 0, 0, 0, 0])
        let lengthCheck = record[8..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian }
        #expect(lengthCheck == CRC32C.masked(Array(record[0..<8])))
        #expect(Array(record[12..<15]) == data)
        let dataCheck = record[15..<19].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian }
        #expect(dataCheck == CRC32C.masked(data))
    }

    /// What is written reads back: the header first, scalars (as float32) and text by step and tag; a
    /// truncated last record ends the file; a flipped bit is refused naming the file.
    @Test func writtenEventsReadBack() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try EventFileWriter(directory: "\(dir)/logs")
        try writer.scalars([("train/loss", 2.5), ("train/learning_rate", 0.01)], step: 1)
        try writer.text("events/stop", "stopped", step: 2)
        try writer.flush()
        let events = try EventFiles.events(writer.path)
        #expect(events.first?.fileVersion == "brain.Event:2")
        #expect(events.first?.sourceMetadata.writer == "alexnet-dist")
        let values = try EventFiles.values(in: "\(dir)/logs")
        #expect(values.map(\.tag) == ["train/loss", "train/learning_rate", "events/stop"])
        #expect(values.map(\.step) == [1, 1, 2])
        #expect(values[0].scalar == 2.5 && values[1].scalar == Double(Float(0.01)))
        #expect(values[2].text == "stopped" && values[2].scalar == nil)

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: writer.path)))
        try Data(bytes.dropLast(3)).write(to: URL(fileURLWithPath: writer.path))
        #expect(try EventFiles.values(in: "\(dir)/logs").map(\.tag) == ["train/loss", "train/learning_rate"])
        bytes[bytes.count - 10] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: writer.path))
        #expect {
            try EventFiles.values(in: "\(dir)/logs")
        } throws: { error in
            "\(error)".contains(writer.path) && "\(error)".contains("checksum does not match")
        }
    }

    /// A writer continuing a log starts a new file, later in name order, with a START at the purge step;
    /// `trim` drops the values refused and rewrites only the files it changed.
    @Test func aResumedLogIsTrimmedAndStartsWithAPurge() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try EventFileWriter(directory: dir)
        for step in 1...6 { try first.scalars([("train/loss", Double(step))], step: step) }
        try first.scalars([("eval/test/loss", 1)], step: 3)
        let dropped = try EventFiles.trim(directory: dir, writtenBy: "alexnet-dist") { step, tag in
            tag.hasPrefix("eval/") ? step < 3 : step <= 3
        }
        #expect(dropped == 4)
        // Another program's file is left alone.
        let other = try EventFileWriter(directory: dir, writer: "other")
        try other.scalars([("train/loss", 9)], step: 9)
        #expect(try EventFiles.trim(directory: dir, writtenBy: "alexnet-dist") { _, _ in false } == 3)
        try FileManager.default.removeItem(atPath: other.path)
        let second = try EventFileWriter(directory: dir, purgeFrom: 4)
        try second.scalars([("train/loss", 4)], step: 4)
        #expect(EventFiles.files(in: dir) == [first.path, second.path])
        let start = try EventFiles.events(second.path)[1]
        #expect(start.sessionLog.status == .start && start.step == 4)
        #expect(try EventFiles.values(in: dir).map(\.step) == [4])
    }

    /// A file where the directory should be: one line naming it.
    @Test func aFileInPlaceOfTheDirectoryIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: "\(dir)/logs", contents: Data())
        #expect {
            try EventFileWriter(directory: "\(dir)/logs")
        } throws: { error in
            "\(error)" == "\(dir)/logs: is a file, expected a directory for TensorBoard event files"
        }
    }
}
