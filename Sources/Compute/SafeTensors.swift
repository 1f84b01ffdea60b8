import CZlib
import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header mapping
/// each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data that
/// follows) plus an optional `"__metadata__"` map of strings, then the raw little-endian data.
///
/// Only `F32` tensors are written and read here.
public enum SafeTensors {
    public struct FormatError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// A tensor to write: its name, shape and values (row-major).
    public struct Entry {
        public let name: String
        public let shape: [Int]
        public let values: UnsafeBufferPointer<Float>

        public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) values for shape \(shape)")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// The metadata key of the file's CRC-32 (`crc32:` and 8 hex digits): zlib's CRC-32 of the whole file
    /// with those 8 digits written as zeros. Note [checksummed files]: alexnet-dist writes it into every
    /// model and checkpoint and checks it whenever it is present, so a flipped bit anywhere (length,
    /// header, metadata, weights) is an error naming the file; files from other writers have none and are
    /// read as before.
    public static let checksumKey = "checksum"
    static let checksumPlaceholder = "crc32:00000000"

    /// Writes the tensors, in the given order, atomically, with the file's checksum in the metadata.
    public static func write(_ path: String, entries: [Entry], metadata given: [String: String]) throws {
        var metadata = given
        metadata[checksumKey] = checksumPlaceholder
        var header = "{"
        var offset = 0
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            header += "\"__metadata__\":{\(fields.joined(separator: ","))},"
        }
        header += entries.map { entry in
            let end = offset + entry.values.count * 4
            defer { offset = end }
            return
                "\(jsonString(entry.name)):{\"dtype\":\"F32\",\"shape\":[\(entry.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
        }.joined(separator: ",")
        header += "}"
        // Pad the header with spaces so the data starts 8-byte aligned.
        while header.utf8.count % 8 != 0 { header += " " }
        var prefix = [UInt8](repeating: 0, count: 8)
        let length = UInt64(header.utf8.count)
        for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
        prefix += Array(header.utf8)
        let digits = checksumDigits(in: prefix[...])!
        var crc = prefix.withUnsafeBufferPointer { crc32_z(0, $0.baseAddress, $0.count) }
        for entry in entries where !entry.values.isEmpty {
            crc = UnsafeRawBufferPointer(entry.values).withMemoryRebound(to: UInt8.self) {
                crc32_z(crc, $0.baseAddress, $0.count)
            }
        }
        prefix.replaceSubrange(digits, with: Array(String(format: "%08x", UInt32(truncatingIfNeeded: crc)).utf8))
        try prefix.withUnsafeBytes { head in
            try AtomicFile.write(path, chunks: [head] + entries.map { UnsafeRawBufferPointer($0.values) })
        }
    }

    /// A parsed safetensors file.
    public struct File {
        public let path: String
        public let metadata: [String: String]
        public let shapes: [String: [Int]]
        private let bytes: [UInt8]
        private let ranges: [String: Range<Int>]

        /// Reads and validates a file: header length, JSON, dtypes, shapes against byte ranges, ranges
        /// inside the file.
        public init(path: String) throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FormatError(
                    path: path,
                    problem: FileManager.default.fileExists(atPath: path)
                        ? "cannot be read" : "no such file")
            }
            self.path = path
            bytes = [UInt8](data)
            guard bytes.count >= 8 else {
                throw FormatError(
                    path: path,
                    problem: "not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
            }
            var length = 0
            for i in 0..<8 { length |= Int(bytes[i]) << (8 * i) }
            guard length <= SafeTensors.maxHeaderBytes else {
                throw FormatError(
                    path: path,
                    problem:
                        "header length \(length) (bytes 0–7) exceeds the format's limit of \(SafeTensors.maxHeaderBytes) bytes"
                )
            }
            guard length > 0, length <= bytes.count - 8 else {
                throw FormatError(
                    path: path,
                    problem:
                        "not a safetensors file or truncated: header length \(length) but only \(bytes.count - 8) bytes follow"
                )
            }
            guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any]
            else {
                throw FormatError(path: path, problem: "the header is not a JSON object")
            }
            if let repeated = SafeTensors.repeatedTopLevelKey(bytes[8..<(8 + length)]) {
                throw FormatError(path: path, problem: "the header names \(repeated) twice")
            }
            let dataStart = 8 + length
            var metadata: [String: String] = [:], shapes: [String: [Int]] = [:], ranges: [String: Range<Int>] = [:]
            for (name, value) in json {
                if name == "__metadata__" {
                    guard let strings = value as? [String: String] else {
                        throw FormatError(path: path, problem: "__metadata__ is not an object of strings")
                    }
                    metadata = strings
                    continue
                }
                guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                    let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int],
                    offsets.count == 2
                else {
                    throw FormatError(path: path, problem: "tensor \(name): malformed header entry")
                }
                guard dtype == "F32" else {
                    throw FormatError(path: path, problem: "tensor \(name) has dtype \(dtype), expected F32")
                }
                let (begin, end) = (offsets[0], offsets[1])
                let available = bytes.count - dataStart
                guard shape.allSatisfy({ $0 >= 0 }),
                    let elements = shape.reduce(Optional(1), { p, d in p.flatMap { checkedProduct($0, d) } }),
                    let byteCount = checkedProduct(elements, 4)
                else {
                    throw FormatError(path: path, problem: "tensor \(name): shape \(shape) is not a valid size")
                }
                guard begin >= 0, end >= begin, end - begin == byteCount else {
                    throw FormatError(
                        path: path, problem: "tensor \(name): offsets \(begin)..<\(end) do not hold shape \(shape)")
                }
                guard end <= available else {
                    throw FormatError(
                        path: path,
                        problem:
                            "truncated: tensor \(name) ends at byte \(end) of the data, which has \(available) bytes")
                }
                shapes[name] = shape
                ranges[name] = (dataStart + begin)..<(dataStart + end)
            }
            // The tensors tile the data exactly: in offset order each begins where the previous ended, the
            // first at 0, the last at the end of the file (no overlap, no gap, no stray bytes).
            var next = dataStart
            for (name, range) in ranges.sorted(by: { ($0.value.lowerBound, $0.key) < ($1.value.lowerBound, $1.key) }) {
                guard range.lowerBound == next else {
                    throw FormatError(
                        path: path,
                        problem:
                            range.lowerBound < next
                            ? "tensor \(name) overlaps the tensor before it (data_offsets begin at \(range.lowerBound - dataStart), expected \(next - dataStart))"
                            : "\(range.lowerBound - next) bytes before tensor \(name) belong to no tensor")
                }
                next = range.upperBound
            }
            guard next == bytes.count else {
                throw FormatError(
                    path: path, problem: "\(bytes.count - next) bytes after the last tensor belong to no tensor")
            }
            // Checked when the metadata names a checksum or the header holds a checksum's value.
            let digits = SafeTensors.checksumDigits(in: bytes[0..<dataStart])
            if digits != nil || metadata[SafeTensors.checksumKey] != nil {
                try SafeTensors.verifyChecksum(
                    metadata[SafeTensors.checksumKey], at: digits, of: bytes, headerEnd: dataStart, path: path)
            }
            self.metadata = metadata
            self.shapes = shapes
            self.ranges = ranges
        }

        /// Copies tensor `name` into `target`, which must hold exactly its elements.
        public func read(_ name: String, into target: UnsafeMutableBufferPointer<Float>) throws {
            guard let range = ranges[name] else { throw FormatError(path: path, problem: "no tensor named \(name)") }
            guard range.count == target.count * 4 else {
                throw FormatError(
                    path: path, problem: "tensor \(name) has shape \(shapes[name]!), expected \(target.count) elements")
            }
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(target).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[range]))
            }
        }
    }

    /// Where the 8 hex digits of a checksum's value lie in `head` (the length field and the header): the one
    /// place `"crc32:` is followed by 8 lowercase hex digits and `"`. Found by its value, not its key, so a
    /// flipped letter of the key still leaves the file checked (and refused).
    static func checksumDigits(in head: ArraySlice<UInt8>) -> Range<Int>? {
        let needle = Array("\"crc32:".utf8)
        func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...102).contains(byte) }
        guard head.count >= needle.count + 9 else { return nil }
        var found: [Int] = []
        for at in head.startIndex...(head.endIndex - needle.count - 9) where head[at] == needle[0] {
            let digits = (at + needle.count)..<(at + needle.count + 8)
            if head[at..<(at + needle.count)].elementsEqual(needle), head[digits].allSatisfy(isDigit),
                head[digits.upperBound] == UInt8(ascii: "\"")
            {
                found.append(digits.lowerBound)
            }
        }
        return found.count == 1 ? found[0]..<(found[0] + 8) : nil
    }

    /// Note [checksummed files]: the checksum (`recorded`, the metadata's, else the one at `digits`) must
    /// be `crc32:` and 8 hex digits at `digits`, equal to the CRC-32 of `bytes` with those digits read as
    /// zeros.
    static func verifyChecksum(
        _ recorded: String?, at digits: Range<Int>?, of bytes: [UInt8], headerEnd: Int, path: String
    ) throws {
        guard let digits else {
            throw FormatError(
                path: path, problem: "metadata checksum '\(recorded ?? "")' is not crc32: and 8 hex digits")
        }
        let hex = String(decoding: bytes[digits], as: UTF8.self)
        guard recorded == nil || recorded == "crc32:" + hex, let expected = UInt32(hex, radix: 16) else {
            throw FormatError(
                path: path, problem: "metadata checksum '\(recorded ?? "")' is not the header's crc32:\(hex)")
        }
        var head = Array(bytes[0..<headerEnd])
        head.replaceSubrange(digits, with: Array("00000000".utf8))
        var crc = head.withUnsafeBufferPointer { crc32_z(0, $0.baseAddress, $0.count) }
        crc = bytes.withUnsafeBufferPointer { crc32_z(crc, $0.baseAddress! + headerEnd, $0.count - headerEnd) }
        let actual = UInt32(truncatingIfNeeded: crc)
        guard actual == expected else {
            throw FormatError(
                path: path,
                problem:
                    "the contents' CRC-32 is \(String(format: "%08x", actual)), the metadata's checksum says \(hex): the file is damaged"
            )
        }
    }

    /// The first name that appears twice among a JSON object's own keys (JSONSerialization keeps one of
    /// them silently), or nil. Strings are compared as written (escapes undecoded), which finds every
    /// repeat a writer produces.
    static func repeatedTopLevelKey(_ json: ArraySlice<UInt8>) -> String? {
        var seen: Set<ArraySlice<UInt8>> = []
        var depth = 0, i = json.startIndex, expectingKey = false
        while i < json.endIndex {
            let byte = json[i]
            if byte == UInt8(ascii: "\"") {
                var end = i + 1
                while end < json.endIndex && json[end] != UInt8(ascii: "\"") {
                    end += json[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                if depth == 1 && expectingKey {
                    let key = json[min(i + 1, json.endIndex)..<min(end, json.endIndex)]
                    if !seen.insert(key).inserted { return String(decoding: key, as: UTF8.self) }
                    expectingKey = false
                }
                i = end + 1
                continue
            }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1 && byte == UInt8(ascii: "{")
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): if depth == 1 { expectingKey = true }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The largest header the format allows (safetensors' own limit: 100 MB).
    public static let maxHeaderBytes = 100_000_000

    private static func checkedProduct(_ a: Int, _ b: Int) -> Int? {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : product
    }

    private static func jsonString(_ text: String) -> String {
        let data = try! JSONEncoder().encode(text)
        return String(decoding: data, as: UTF8.self)
    }
}
