import Foundation
import SwiftProtobuf

/// Writes a TensorBoard event file: scalars and text, one `Event` record each, in the directory a
/// TensorBoard (`tensorboard --logdir DIR`) or a `SummaryWriter` reader watches.
///
/// ## Note [event files]
///
/// A file is a sequence of records, each `length` (UInt64, little-endian), the masked CRC-32C of those 8
/// bytes, `length` bytes of a serialised `tensorboard.Event` and the masked CRC-32C of them (TensorFlow's
/// TFRecord framing; `CRC32C`). The first event names the format (`file_version` "brain.Event:2") and the
/// writer. Every writer opens a new file, `events.out.tfevents.<seconds, 10 digits>.<host>.<pid>.<n>.<writer>`
/// (n counts the process's writers): readers take a directory's files in name order and never go back to an
/// earlier one, so files of later runs sort later.
///
/// An event file is a log, not a document: it is appended to as the run goes (records are written
/// through to the kernel as they are made, `flush` syncs them), and a run killed mid-record leaves a
/// truncated last record, which readers stop at; the atomic rename of the project's other files does not
/// apply.
///
/// Resuming (Note [resuming a log] says what is kept): a writer opened with `purgeFrom: s` writes, after the
/// header, a `SessionLog` START at step s: TensorBoard's event accumulator then drops every event of the
/// directory's earlier files at step s or later (what a run wrote after its last checkpoint), as PyTorch's
/// `SummaryWriter(purge_step:)` does; TensorBoard's data server keeps, per tag, the last event written at a
/// step, to the same effect.
public final class EventFileWriter: @unchecked Sendable {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// The file's path.
    public let path: String
    private let handle: FileHandle
    /// Writes come from the training thread and, for the watchdog's events, from its thread.
    private let lock = NSLock()

    /// The program named in the files' first events.
    public static let defaultWriter = "alexnet-dist"
    /// Writers opened by this process, for unique file names within a second.
    private static let opened = Counter()

    /// Creates `directory` if needed and a new event file in it.
    /// - Parameters:
    ///   - writer: the program named in the file's first event.
    ///   - purgeFrom: the first step this run writes, when it continues an earlier run's log.
    public init(directory: String, writer: String = EventFileWriter.defaultWriter, purgeFrom: Int? = nil) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw WriteError(path: directory, problem: "is a file, expected a directory for TensorBoard event files")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WriteError(path: directory, problem: "cannot create the directory: \(error.localizedDescription)")
        }
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        let path =
            "\(directory)/events.out.tfevents.\(String(format: "%010ld", Int(now))).\(host).\(getpid()).\(EventFileWriter.opened.next()).\(writer)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw WriteError(path: path, problem: "cannot create the event file: \(String(cString: strerror(errno)))")
        }
        self.path = path
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var header = Tensorboard_Event()
        header.wallTime = now
        header.fileVersion = "brain.Event:2"
        header.sourceMetadata.writer = writer
        try write(header)
        if let step = purgeFrom {
            var start = Tensorboard_Event()
            start.wallTime = now
            start.step = Int64(step)
            start.sessionLog.status = .start
            try write(start)
        }
    }

    /// One event of scalars at `step`, in `tag` order (shown in the Scalars dashboard).
    public func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double? = nil) throws {
        guard !values.isEmpty else { return }
        var summary = Tensorboard_Summary()
        summary.value = values.map { tag, value in
            var v = Tensorboard_Summary.Value()
            v.tag = tag
            v.simpleValue = Float(value)
            return v
        }
        try write(summary, step: step, wallTime: wallTime)
    }

    /// A text event at `step` (the Text dashboard renders it as Markdown).
    public func text(_ tag: String, _ text: String, step: Int, wallTime: Double? = nil) throws {
        var tensor = Tensorboard_TensorProto()
        tensor.dtype = .dtString
        tensor.stringVal = [Data(text.utf8)]
        var v = Tensorboard_Summary.Value()
        v.tag = tag
        v.metadata.pluginData.pluginName = "text"
        v.metadata.dataClass = .tensor
        v.tensor = tensor
        var summary = Tensorboard_Summary()
        summary.value = [v]
        try write(summary, step: step, wallTime: wallTime)
    }

    /// Makes what was written durable (fsync).
    public func flush() throws {
        do { try lock.withLock { try handle.synchronize() } } catch {
            throw WriteError(path: path, problem: "cannot sync the event file: \(error.localizedDescription)")
        }
    }

    private func write(_ summary: Tensorboard_Summary, step: Int, wallTime: Double?) throws {
        var event = Tensorboard_Event()
        event.wallTime = wallTime ?? Date().timeIntervalSince1970
        event.step = Int64(step)
        event.summary = summary
        try write(event)
    }

    private func write(_ event: Tensorboard_Event) throws {
        do {
            let data: [UInt8] = try event.serializedBytes()
            let record = EventFileWriter.record(data)
            try lock.withLock { try handle.write(contentsOf: record) }
        } catch {
            throw WriteError(path: path, problem: "cannot append an event: \(error.localizedDescription)")
        }
    }

    /// `data` framed as one record (Note [event files]).
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var length = UInt64(data.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { [UInt8]($0) }
        var record = lengthBytes
        record.reserveCapacity(data.count + 16)
        appendLittleEndian(CRC32C.masked(lengthBytes), to: &record)
        record += data
        appendLittleEndian(CRC32C.masked(data), to: &record)
        return record
    }

    private static func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}

/// A thread-safe count.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.withLock {
            value += 1; return value
        }
    }
}
