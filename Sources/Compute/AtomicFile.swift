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
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WriteError(path: path, problem: "directory \(directory) does not exist")
        }
        let temporary = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, problem: "cannot create \(temporary): \(errnoText())") }
        var isOpen = true, renamed = false
        defer {
            if isOpen { close(fd) }
            if !renamed { unlink(temporary) }
        }
        for chunk in chunks {
            var offset = 0
            while offset < chunk.count {
                let n = Foundation.write(fd, chunk.baseAddress! + offset, chunk.count - offset)
                guard n > 0 else { throw WriteError(path: path, problem: "write failed: \(errnoText())") }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw WriteError(path: path, problem: "fsync failed: \(errnoText())") }
        isOpen = false
        guard close(fd) == 0 else { throw WriteError(path: path, problem: "close failed: \(errnoText())") }
        guard rename(temporary, path) == 0 else {
            throw WriteError(path: path, problem: "rename failed: \(errnoText())")
        }
        renamed = true
        let dirfd = open(directory, O_RDONLY)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    /// Checks, before long work, that `path` can be written: its directory exists and accepts a new file,
    /// and `path` is not a directory. Creates and removes a probe file.
    public static func checkWritable(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw WriteError(path: path, problem: "is a directory, expected a file path")
        }
        let url = URL(fileURLWithPath: path)
        let probe = "\(url.deletingLastPathComponent().path)/.\(url.lastPathComponent).probe-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, problem: "cannot be written: \(errnoText())") }
        close(fd)
        unlink(probe)
    }

    /// Writes `data` as the new content of `path`.
    public static func write(_ path: String, data: [UInt8]) throws {
        try data.withUnsafeBytes { try write(path, chunks: [$0]) }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
