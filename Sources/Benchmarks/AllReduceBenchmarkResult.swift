import Collectives
import Foundation
import Timing

/// The figures of one size and codec (JSON keys in snake case).
public struct AllReduceBenchmarkResult: Codable, Sendable {
    public var ranks: Int
    public var elements: Int
    public var codec: Codec
    /// What was summed: synthetic values or captured gradients.
    public var payload: String
    public var warmup: Int
    public var repetitions: Int
    /// Per repetition, the slowest rank's time.
    public var seconds: [Double]
    public var medianSeconds: Double
    /// Buffer bytes (fp32) over the median time, as nccl-tests' "algbw".
    public var algorithmBandwidthGBps: Double
    /// Mean over ranks of the bytes each sent to the others, and what the uncompressed exchange sends.
    public var bytesSentPerRank: Double
    public var fp32BytesSentPerRank: Double
    /// Bytes sent over what fp32 would send.
    public var sentFraction: Double
    /// fp32 bytes encoded (decoded) per second of encoding (decoding) time, mean over ranks.
    public var encodeGBps: Double?
    public var decodeGBps: Double?
    /// Largest |result − exact| (and over the largest |exact|), exact being the uncompressed rank-order sum.
    public var maxAbsoluteError: Double
    public var maxRelativeError: Double
    public var baselineSeconds: [Double]?
    public var baselineMedianSeconds: Double?
    /// Baseline time over this time: ≥ 1 means as fast as the baseline or faster.
    public var speedVsBaseline: Double?
    /// Whether every rank ended with bit-identical results.
    public var identicalOnAllRanks: Bool
}
