import Foundation

/// One damaged input: what was done to it, and its bytes.
public struct CorruptCase: Sendable {
    public var name: String
    public var bytes: [UInt8]
    /// The byte a flip changed.
    public var position: Int?

    public init(name: String, bytes: [UInt8], position: Int? = nil) {
        self.name = name
        self.bytes = bytes
        self.position = position
    }
}

/// The corrupt-input suites' cases and their outcome: inputs made from a good one by truncating it and by
/// flipping bits in its header fields, read by the real reader; every refusal must be one line that names
/// the file (or what the reader was told it reads).
public enum Corruption {
    /// Seconds beyond which a case counts as a hang. The cases' times are figures, printed in each tally
    /// (milliseconds here); tests do not time them on a shared machine.
    public static let hang = 30.0

    /// The input cut to each of `lengths` bytes (those below its size, once each).
    public static func truncations(of bytes: [UInt8], at lengths: some Sequence<Int>) -> [CorruptCase] {
        Set(lengths.filter { $0 >= 0 && $0 < bytes.count }).sorted().map {
            CorruptCase(name: "truncated to \($0) of \(bytes.count) bytes", bytes: Array(bytes.prefix($0)))
        }
    }

    /// Every prefix of the input, from empty to one byte short.
    public static func everyTruncation(of bytes: [UInt8]) -> [CorruptCase] {
        truncations(of: bytes, at: 0..<bytes.count)
    }

    /// The positions of ASCII letters among `bytes[range]` (where a flip may leave JSON valid: another
    /// letter in a name or a value).
    public static func letterPositions(_ bytes: [UInt8], in range: Range<Int>) -> Set<Int> {
        Set(range.filter { (65...90).contains(bytes[$0]) || (97...122).contains(bytes[$0]) })
    }

    /// The input with one bit flipped, for each of `bits` of the bytes in `range`, made one at a time as
    /// they are read (a large file's cases would not fit in memory together).
    public static func bitFlips(
        of bytes: [UInt8], in range: Range<Int>, bits: [Int] = Array(0..<8)
    ) -> LazyMapSequence<[(Int, Int)], CorruptCase> {
        range.clamped(to: 0..<bytes.count).flatMap { at in bits.map { (at, $0) } }.lazy.map { at, bit in
            var damaged = bytes
            damaged[at] ^= 1 << bit
            return CorruptCase(name: "bit \(bit) of byte \(at) flipped", bytes: damaged, position: at)
        }
    }

    /// How a reader met a suite's cases.
    public struct Tally: CustomStringConvertible, Sendable {
        public var cases = 0
        public var refused = 0
        /// Cases read without an error (a flip that left the input valid, such as one in a name's letter).
        public var accepted: [String] = []
        /// The flipped bytes of the cases read without an error.
        public var acceptedPositions: Set<Int> = []
        /// Refusals whose message is not one line naming the input: "case: message".
        public var unclear: [String] = []
        /// The slowest case, in seconds.
        public var slowest = 0.0

        public var description: String {
            String(
                format: "%d cases, %d refused, %d read as valid, %d unclear, slowest %.3f s", cases, refused,
                accepted.count, unclear.count, slowest)
        }
    }

    /// Writes each case to `path` and reads it with `read`: an error's message must be one line containing
    /// `path`.
    public static func run(
        _ cases: some Sequence<CorruptCase>, atPath path: String, read: (String) throws -> Void
    ) -> Tally {
        run(cases, naming: path) { bytes in
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            try read(path)
        }
    }

    /// Reads each case's bytes with `read`: an error's message must be one line containing `naming` (empty:
    /// any one line).
    public static func run(
        _ cases: some Sequence<CorruptCase>, naming: String, read: ([UInt8]) throws -> Void
    ) -> Tally {
        var tally = Tally()
        for item in cases {
            tally.cases += 1
            let start = Date()
            do {
                try read(item.bytes)
                tally.accepted.append(item.name)
                if let position = item.position { tally.acceptedPositions.insert(position) }
            } catch {
                let message = "\(error)"
                if message.contains("\n") || message.isEmpty || (!naming.isEmpty && !message.contains(naming)) {
                    tally.unclear.append("\(item.name): \(message)")
                } else {
                    tally.refused += 1
                }
            }
            tally.slowest = max(tally.slowest, Date().timeIntervalSince(start))
        }
        return tally
    }
}
