import Foundation
import Testing

@testable import Compute

/// The safetensors reader trusts nothing: offsets near 2⁶³ are named, not trapped on; tensors must tile the
/// data exactly (no overlap, no gap, no stray bytes); the header is bounded and its metadata typed.
@Suite struct SafeTensorsTests {
    /// A file of `header` (JSON) followed by `data` bytes of data.
    static func file(_ header: String, data: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)").path
        let length = header.utf8.count
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        bytes += Array(header.utf8) + Array(repeating: 0, count: data)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func problem(_ header: String, data: Int) throws -> String? {
        let path = try file(header, data: data)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SafeTensors.File(path: path)
            return nil
        } catch let error as SafeTensors.FormatError {
            return error.problem
        }
    }

    static func tensor(_ name: String, _ count: Int, _ begin: Int, _ end: Int) -> String {
        #""\#(name)":{"dtype":"F32","shape":[\#(count)],"data_offsets":[\#(begin),\#(end)]}"#
    }

    @Test func repeatedKeysAreFoundAtTheTopLevelOnly() {
        func repeated(_ text: String) -> String? { SafeTensors.repeatedTopLevelKey(ArraySlice(Array(text.utf8))) }
        #expect(repeated(#"{"a":{"x":1,"x":2},"b":[{"a":1}]}"#) == nil)
        #expect(repeated(#"{"a\"b":1,"c":{"a\"b":2},"a\"b":3}"#) == #"a\"b"#)
        #expect(repeated(#"{"a":1,"b":"a","a":2}"#) == "a")
    }

    @Test func aSoundFileReads() throws {
        let header = "{" + Self.tensor("a", 2, 0, 8) + "," + Self.tensor("b", 1, 8, 12) + #","__metadata__":{"k":"v"}}"#
        #expect(try Self.problem(header, data: 12) == nil)
    }

    @Test(
        arguments: [
            // Offsets near 2⁶³: named, not an arithmetic trap.
            (
                "{" + tensor("a", 1, 9_223_372_036_854_775_803, 9_223_372_036_854_775_807) + "}", 4,
                "truncated: tensor a ends at byte 9223372036854775807 of the data, which has 4 bytes"
            ),
            (
                "{" + tensor("a", 2, 0, 8) + "," + tensor("b", 1, 4, 8) + "}", 8,
                "tensor b overlaps the tensor before it (data_offsets begin at 4, expected 8)"
            ),
            ("{" + tensor("a", 1, 4, 8) + "}", 8, "4 bytes before tensor a belong to no tensor"),
            ("{" + tensor("a", 1, 0, 4) + "}", 9, "5 bytes after the last tensor belong to no tensor"),
            (
                "{" + tensor("a", 1, 0, 4) + #","__metadata__":{"step":7}}"#, 4,
                "__metadata__ is not an object of strings"
            ),
            ("{" + tensor("a", 1, 0, 4) + "," + tensor("a", 1, 4, 8) + "}", 8, "the header names a twice"),
        ] as [(String, Int, String)])
    func aDamagedFileIsNamedWithItsFault(_ header: String, _ data: Int, _ expected: String) throws {
        #expect(try Self.problem(header, data: data) == expected)
    }

    @Test func aHeaderLongerThanTheFormatAllowsIsRefusedBeforeReadingIt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0...7] = [0, 0, 0, 0, 1, 0, 0, 0][...]  // 2³² bytes of header
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.File(path: path) }
        #expect(error?.problem.contains("exceeds the format's limit of 100000000 bytes") == true)
    }
}
