/// What one compressed allreduce did on one rank.
public struct CompressionStatistics: Sendable, Equatable {
    /// Bytes this rank sent to other ranks.
    public var bytesSent = 0
    /// Bytes the same exchange sends uncompressed (fp32).
    public var fp32BytesSent = 0
    /// fp32 bytes fed to the encoders and produced by the decoders.
    public var encodedBytes = 0
    public var decodedBytes = 0
    /// Time the calling thread spent encoding and decoding.
    public var encodeSeconds = 0.0
    public var decodeSeconds = 0.0

    public init() {}

    /// Bytes sent over fp32 bytes (1 without compression).
    public var ratio: Double { fp32BytesSent == 0 ? 1 : Double(bytesSent) / Double(fp32BytesSent) }

    /// Accumulates another call's figures (a trainer's buckets over a step).
    public static func += (total: inout CompressionStatistics, other: CompressionStatistics) {
        total.bytesSent += other.bytesSent
        total.fp32BytesSent += other.fp32BytesSent
        total.encodedBytes += other.encodedBytes
        total.decodedBytes += other.decodedBytes
        total.encodeSeconds += other.encodeSeconds
        total.decodeSeconds += other.decodeSeconds
    }

    mutating func add(_ fp32: Int, sent: Int) {
        fp32BytesSent += fp32
        bytesSent += sent
    }
}
