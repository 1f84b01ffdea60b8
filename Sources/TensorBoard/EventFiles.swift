import Compute
import Foundation
import SwiftProtobuf

/// A directory of event files (Note [event files]): reading them back, and trimming what an earlier run of
/// the directory wrote past the point a resumed run continues from.
public enum EventFiles {
    public struct ReadError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// One scalar or text value as read back.
    public struct Value: Equatable, Sendable {
        public var step: Int
        public var tag: String
        /// The scalar, or nil for a text value.
        public var scalar: Double?
        public var text: String?
        public var wallTime: Double
    }

    /// The event files of `directory`, in the order readers take them (by name).
    public static func files(in directory: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.filter { $0.hasPrefix("events.out.tfevents.") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Every value of every summary in `directory`'s files, in file order. A truncated last record (a run
    /// killed while writing) ends its file, as it does for TensorBoard's readers; a record whose checksum
    /// does not match is an error.
    public static func values(in directory: String) throws -> [Value] {
        try files(in: directory).flatMap { path in
            try events(path).flatMap { event -> [Value] in
                guard case .summary(let summary)? = event.what else { return [] }
                return summary.value.map { v in
                    var value = Value(
                        step: Int(event.step), tag: v.tag, scalar: nil, text: nil, wallTime: event.wallTime)
                    switch v.value {
                    case .simpleValue(let x)?: value.scalar = Double(x)
                    case .tensor(let t)?: value.text = t.stringVal.first.map { String(decoding: $0, as: UTF8.self) }
                    case nil: break
                    }
                    return value
                }
            }
        }
    }

    /// Rewrites each file of `directory` that `writer` wrote (atomically) without the summary values `keep`
    /// refuses (given their step and tag); events left with no value are dropped, the others (the header,
    /// session logs) kept. Other programs' files are left alone. Returns the number of values dropped.
    @discardableResult
    public static func trim(
        directory: String, writtenBy writer: String, keep: (_ step: Int, _ tag: String) -> Bool
    ) throws -> Int {
        var dropped = 0
        for path in files(in: directory) {
            let events = try events(path)
            guard events.first?.sourceMetadata.writer == writer else { continue }
            var kept: [Tensorboard_Event] = []
            var changed = false
            for var event in events {
                if case .summary(var summary)? = event.what {
                    let before = summary.value.count
                    summary.value.removeAll { !keep(Int(event.step), $0.tag) }
                    if summary.value.count != before {
                        changed = true
                        dropped += before - summary.value.count
                        if summary.value.isEmpty { continue }
                        event.summary = summary
                    }
                }
                kept.append(event)
            }
            guard changed else { continue }
            var bytes: [UInt8] = []
            for event in kept {
                let data: [UInt8] = try event.serializedBytes()
                bytes += EventFileWriter.record(data)
            }
            try AtomicFile.write(path, data: bytes)
        }
        return dropped
    }

    /// The events of one file (Note [event files]).
    static func events(_ path: String) throws -> [Tensorboard_Event] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(path: path, problem: "cannot be read")
        }
        let bytes = [UInt8](data)
        var events: [Tensorboard_Event] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            let lengthBytes = Array(bytes[offset..<(offset + 8)])
            let length = lengthBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
            let lengthCheck = bytes[(offset + 8)..<(offset + 12)].withUnsafeBytes {
                $0.loadUnaligned(as: UInt32.self).littleEndian
            }
            guard CRC32C.masked(lengthBytes) == lengthCheck else {
                throw ReadError(path: path, problem: "record at byte \(offset): the length's checksum does not match")
            }
            let start = offset + 12
            guard length <= UInt64(bytes.count - start), bytes.count - start - Int(length) >= 4 else { break }
            let end = start + Int(length)
            let record = Array(bytes[start..<end])
            let check = bytes[end..<(end + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian }
            guard CRC32C.masked(record) == check else {
                throw ReadError(path: path, problem: "record at byte \(offset): the data's checksum does not match")
            }
            do {
                events.append(try Tensorboard_Event(serializedBytes: record))
            } catch {
                throw ReadError(path: path, problem: "record at byte \(offset) is not an Event: \(error)")
            }
            offset = end + 4
        }
        return events
    }
}
