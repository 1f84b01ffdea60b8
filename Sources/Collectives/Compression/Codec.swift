/// How gradients are compressed in a `CompressedAllReduce`: a value stage, then optionally byte-shuffle
/// plus zstd. Written as a pipeline of stages joined by `+`:
///
/// | name | value stage | then |
/// |---|---|---|
/// | `none` | – (the plain allreduce, bit for bit) | – |
/// | `zstd[:level]` | fp32, lossless | shuffle + zstd |
/// | `bf16`, `bf16+zstd[:level]` | cast to bfloat16 (round to nearest even) | optionally shuffle + zstd |
/// | `fp16`, `fp16+zstd[:level]` | scale by a power of two against overflow, cast to IEEE half | optionally shuffle + zstd |
/// | `topk[:fraction]`, `topk[:fraction]+zstd:level` | keep the largest `fraction` (default 0.01) with error feedback | always zstd |
///
/// zstd's level defaults to 1 (level 3 never compressed gradients better; `../docs/NOTES.md`).
public struct Codec: Hashable, Sendable, CustomStringConvertible {
    public enum Values: Hashable, Sendable {
        case fp32
        case bf16
        case fp16
        /// Keep `fraction` of each segment's elements, those of largest magnitude; the rest is carried to the
        /// next call for the same tensor (error feedback).
        case topk(fraction: Double)
    }

    public var values: Values
    /// The zstd level after the value stage, or nil for none.
    public var zstdLevel: Int?

    public init(values: Values, zstdLevel: Int?) {
        precondition(
            zstdLevel != nil || !isTopK(values), "Codec: topk always ends in zstd (indices and values are compressed)")
        self.values = values
        self.zstdLevel = zstdLevel
    }

    public static let none = Codec(values: .fp32, zstdLevel: nil)
    public static let zstd = Codec(values: .fp32, zstdLevel: 1)

    /// The plain allreduce, no frames: what `none` means.
    public var isIdentity: Bool { values == .fp32 && zstdLevel == nil }

    /// Whether decoded values can differ from the input.
    public var isLossy: Bool { values != .fp32 }

    /// The codecs `Codec(parsing:)` accepts, for messages and help texts.
    public static let grammar =
        "none, zstd[:level], bf16[+zstd[:level]], fp16[+zstd[:level]] or topk[:fraction][+zstd:level]"

    /// Parses a name such as `bf16+zstd:3` (see the table above).
    public init(parsing name: String) throws {
        func fail(_ why: String) -> CodecError { CodecError(name: name, problem: why) }
        let stages = name.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
        var values: Values?
        var level: Int?
        for (position, stage) in stages.enumerated() {
            let parts = stage.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let argument = parts.count > 1 ? parts[1] : nil
            switch parts[0] {
            case "none" where stages.count == 1 && argument == nil:
                values = .fp32
            case "bf16", "fp16", "topk":
                guard position == 0 else { throw fail("'\(parts[0])' must come first") }
                if parts[0] == "topk" {
                    let fraction = argument.map { Double($0) } ?? 0.01
                    guard let fraction, fraction > 0, fraction <= 1 else {
                        throw fail("topk fraction '\(argument ?? "")' is not a number in (0, 1]")
                    }
                    values = .topk(fraction: fraction)
                    level = 1
                } else {
                    guard argument == nil else { throw fail("'\(parts[0])' takes no argument") }
                    values = parts[0] == "bf16" ? .bf16 : .fp16
                }
            case "zstd":
                guard position == stages.count - 1, level == nil || isTopK(values ?? .fp32) else {
                    throw fail("'zstd' must come last, once")
                }
                let parsed = argument.map { Int($0) } ?? 1
                guard let parsed, (1...19).contains(parsed) else {
                    throw fail("zstd level '\(argument ?? "")' is not an integer in 1…19")
                }
                values = values ?? .fp32
                level = parsed
            default:
                throw fail("unknown stage '\(stage)'")
            }
        }
        guard let values else { throw fail("empty") }
        self.init(values: values, zstdLevel: level)
    }

    /// The canonical name, which `init(parsing:)` reads back.
    public var description: String {
        let zstd = zstdLevel.map { $0 == 1 ? "zstd" : "zstd:\($0)" }
        switch values {
        case .fp32: return zstd ?? "none"
        case .bf16: return ["bf16", zstd].compactMap { $0 }.joined(separator: "+")
        case .fp16: return ["fp16", zstd].compactMap { $0 }.joined(separator: "+")
        case .topk(let fraction):
            let head = fraction == 0.01 ? "topk" : "topk:\(fraction)"
            return zstdLevel == 1 ? head : "\(head)+\(zstd!)"
        }
    }
}

extension Codec {
    /// Whether the codec carries error-feedback residuals from call to call (`topk`).
    public var hasErrorFeedback: Bool { isTopK(values) }
}

private func isTopK(_ values: Codec.Values) -> Bool {
    if case .topk = values { return true }
    return false
}
