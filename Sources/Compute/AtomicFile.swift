import Foundation

/// Writes files so that a reader sees either the old file or the complete new one, never a part:
/// the bytes go to a temporary file in the same directory, which is flushed to disk (fsync) and renamed
/// over the target; the directory is then flushed so the rename itself survives a crash.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// Writes `chunks` one after another as the new content of `path`.
    public static func write(_ path: String, chunks: [UnsafeRawBufferPointer]) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WriteError(path: path, problem: "directory \(directory) does not exist")
        }
        let writer = try Writer(path)
        for chunk in chunks { try writer.append(chunk) }
        try writer.commit()
    }

    /// Checks, before long work, that `path` can be written: its directory exists and accepts a new file,
    /// and `path` is not a directory. Creates and removes a probe file.
    public static func checkWritable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw WriteError(path: path, problem: "is a directory, expected a file path")
        }
        try refuseNonRegular(path)
        let url = URL(fileURLWithPath: path)
        let probe = "\(url.deletingLastPathComponent().path)/.\(url.lastPathComponent).probe-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, problem: "cannot be written: \(errnoText())") }
        close(fd)
        unlink(probe)
    }

    /// Writes a file too large to hold in memory (a data shard) the same way: `append` streams to the
    /// temporary file, `commit` flushes and renames it over `path`; a writer dropped without `commit`
    /// removes its temporary file.
    public final class Writer {
        public let path: String
        private let temporary: String
        private let directory: String
        private var fd: Int32
        private var committed = false
        /// Bytes appended so far.
        public private(set) var count = 0

        public init(_ path: String) throws {
            try AtomicFile.refuseNonRegular(path)
            self.path = path
            let url = URL(fileURLWithPath: path)
            directory = url.deletingLastPathComponent().path
            temporary = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())"
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else {
                throw WriteError(path: path, problem: "cannot create \(temporary): \(AtomicFile.errnoText())")
            }
        }

        deinit {
            if fd >= 0 { close(fd) }
            if !committed { unlink(temporary) }
        }

        public func append(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                guard n > 0 else { throw WriteError(path: path, problem: "write failed: \(errnoText())") }
                offset += n
            }
            count += bytes.count
        }

        public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

        /// Flushes the file to disk and renames it over `path` (then flushes the directory).
        public func commit() throws {
            guard fsync(fd) == 0 else { throw WriteError(path: path, problem: "fsync failed: \(errnoText())") }
            let status = close(fd)
            fd = -1
            guard status == 0 else { throw WriteError(path: path, problem: "close failed: \(errnoText())") }
            guard rename(temporary, path) == 0 else {
                throw WriteError(path: path, problem: "rename failed: \(errnoText())")
            }
            committed = true
            let dirfd = open(directory, O_RDONLY)
            if dirfd >= 0 {
                fsync(dirfd)
                close(dirfd)
            }
        }
    }

    /// Removes the temporary and probe files that writers of files in `directory` named as `name` accepts left
    /// behind when they were killed (their process no longer runs). Returns the paths removed.
    @discardableResult
    public static func removeLeftovers(in directory: String, name: (String) -> Bool) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for entry in entries where entry.hasPrefix(".") {
            for marker in [".tmp-", ".probe-"] {
                guard let range = entry.range(of: marker, options: .backwards),
                    let pid = Int32(entry[range.upperBound...]), pid > 0,
                    name(String(entry[entry.index(after: entry.startIndex)..<range.lowerBound]))
                else { continue }
                // Signal 0 checks that the process exists; ESRCH: it is gone.
                if kill(pid, 0) != 0 && errno == ESRCH, unlink("\(directory)/\(entry)") == 0 {
                    removed.append("\(directory)/\(entry)")
                }
            }
        }
        return removed
    }

    /// Removes the leftovers (`removeLeftovers`) of writers of `path`.
    @discardableResult
    public static func removeLeftovers(of path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        return removeLeftovers(in: url.deletingLastPathComponent().path) { $0 == name }
    }

    /// Writes `data` as the new content of `path`.
    public static func write(_ path: String, data: [UInt8]) throws {
        try data.withUnsafeBytes { try write(path, chunks: [$0]) }
    }

    /// An existing `path` that is not a regular file (a device node, a FIFO, a socket) would be replaced by
    /// the rename, not written to: refused. A symbolic link is followed.
    static func refuseNonRegular(_ path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        let kind: String
        switch status.st_mode & S_IFMT {
        case S_IFREG, S_IFDIR: return  // a directory is refused where it matters, with its own words
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFIFO: kind = "a FIFO"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        throw WriteError(
            path: path, problem: "is \(kind), expected a regular file (written whole and renamed into place)")
    }

    fileprivate static func errnoText() -> String { String(cString: strerror(errno)) }
}
