import Foundation

/// The parsers fuzzed, by the name `alexnet-dist-fuzz` and Scripts/fuzz.sh take.
enum FuzzTarget: String, CaseIterable {
    /// safetensors, and the model and checkpoint files built on it.
    case safetensors
    /// IDX files, plain or gzip'd.
    case idx
    /// The compressed allreduce's frames.
    case frame
    /// Prepared shards: meta.json, an index and its data, read and decoded as training reads them.
    case shards
    /// JPEG and PNG files.
    case image
    /// The command line's own parsers: codecs, codec lists, integer lists, hostfiles, links.
    case cli

    nonisolated(unsafe) static var selected = FuzzTarget.safetensors

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .safetensors: fuzzSafeTensors(bytes)
        case .idx: fuzzIDX(bytes)
        case .frame: fuzzFrame(bytes)
        case .shards: fuzzShards(bytes)
        case .image: fuzzImage(bytes)
        case .cli: fuzzCommandLine(bytes)
        }
    }
}

/// A scratch directory of this process's in /dev/shm (memory, not disk), for readers that take a path.
let scratch: String = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let directory = "\(base)/alexnet-dist-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: "/dev/shm/alexnet-dist-fuzz-\(getpid())") }
    return directory
}()

/// Writes `bytes` to `name` in the scratch directory and returns its path.
func scratchFile(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
    let path = "\(scratch)/\(name)"
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

/// Splits the input into `count` parts: a little-endian UInt16 length before each but the last.
func parts(_ bytes: UnsafeRawBufferPointer, _ count: Int) -> [UnsafeRawBufferPointer] {
    var rest = bytes, result: [UnsafeRawBufferPointer] = []
    for _ in 0..<(count - 1) {
        guard rest.count >= 2 else {
            result.append(UnsafeRawBufferPointer(rebasing: rest[rest.endIndex...]))
            continue
        }
        let length = min(Int(rest[rest.startIndex]) | Int(rest[rest.startIndex + 1]) << 8, rest.count - 2)
        result.append(UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + 2)..<(rest.startIndex + 2 + length)]))
        rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + 2 + length)...])
    }
    return result + [rest]
}
