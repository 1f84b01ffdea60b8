import Collectives
import Foundation

/// What one rank sent per training step, by `ParallelPlan.Channel`, measured (Note [bytes sent]) beside its
/// plan's arithmetic (JSON keys in snake case).
public struct TrafficReport: Codable, Sendable, Equatable {
    public var rank: Int
    /// The plan's fp32 bytes per step.
    public var plannedBytes: [String: Int]
    /// Measured bytes per step of float collectives (uncompressed).
    public var fp32Bytes: [String: Double]
    /// Measured bytes per step of byte messages (compressed frames and control messages).
    public var encodedBytes: [String: Double]
    /// The plan's float collectives per step (`Transfer.calls`; none for gradients a codec compresses: they
    /// travel as byte messages), and those measured (Note [bytes sent]).
    public var plannedCalls: [String: Int]
    public var measuredCalls: [String: Double]

    /// `measured`: what the rank of `plan` sent over `steps` steps, by channel.
    public init(plan: ParallelPlan, measured: [String: TrafficMeter.Counts], steps: Int) {
        precondition(steps >= 1, "TrafficReport: steps must be at least 1, got \(steps)")
        let channels = ParallelPlan.Channel.allCases
        rank = plan.rank
        plannedBytes = Dictionary(uniqueKeysWithValues: channels.map { ($0.rawValue, plan.bytesSentPerStep(on: $0)) })
        fp32Bytes = Dictionary(
            uniqueKeysWithValues: channels.map {
                ($0.rawValue, Double(measured[$0.rawValue]?.fp32 ?? 0) / Double(steps))
            })
        encodedBytes = Dictionary(
            uniqueKeysWithValues: channels.map {
                ($0.rawValue, Double(measured[$0.rawValue]?.encoded ?? 0) / Double(steps))
            })
        // Compressed gradients travel as byte messages: no float collectives on their channels.
        let floats = plan.transfers.filter {
            plan.codec.isIdentity || ![.gradients, .shardGradients].contains($0.channel)
        }
        plannedCalls = Dictionary(
            uniqueKeysWithValues: channels.map { channel in
                (channel.rawValue, floats.filter { $0.channel == channel }.reduce(0) { $0 + $1.calls })
            })
        measuredCalls = Dictionary(
            uniqueKeysWithValues: channels.map {
                ($0.rawValue, Double(measured[$0.rawValue]?.collectives ?? 0) / Double(steps))
            })
    }

    public var plannedTotal: Int { plannedBytes.values.reduce(0, +) }
    public var measuredTotal: Double { fp32Bytes.values.reduce(0, +) + encodedBytes.values.reduce(0, +) }
    /// Measured over planned bytes (nil when the plan sends nothing: one rank).
    public var ratio: Double? { plannedTotal > 0 ? measuredTotal / Double(plannedTotal) : nil }

    /// The report as a table: a header, one line per channel that sends anything, and the total; the last
    /// column, float collectives per step, planned / measured.
    public var table: [String] {
        func pad(_ s: String, _ n: Int) -> String {
            s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0)
        }
        func ratio(_ measured: Double, _ planned: Double) -> String {
            planned > 0 ? String(format: "%.4f", measured / planned) : ""
        }
        var lines = [
            "rank \(pad("\(rank):", 4))channel         plan           measured       fp32           encoded+control  measured/plan  collectives plan/measured"
        ]
        for channel in ParallelPlan.Channel.allCases.map(\.rawValue) {
            let planned = Double(plannedBytes[channel] ?? 0)
            let fp32 = fp32Bytes[channel] ?? 0, encoded = encodedBytes[channel] ?? 0
            guard planned > 0 || fp32 + encoded > 0 else { continue }
            let calls = "\(plannedCalls[channel] ?? 0)/\(String(format: "%g", measuredCalls[channel] ?? 0))"
            lines.append(
                "         \(pad(channel, 16))\(pad(formatBytes(planned), 15))\(pad(formatBytes(fp32 + encoded), 15))"
                    + "\(pad(formatBytes(fp32), 15))\(pad(formatBytes(encoded), 17))"
                    + "\(pad(ratio(fp32 + encoded, planned), 15))\(calls)")
        }
        lines.append(
            "         \(pad("total", 16))\(pad(formatBytes(Double(plannedTotal)), 15))"
                + "\(pad(formatBytes(measuredTotal), 47))\(ratio(measuredTotal, Double(plannedTotal)))")
        return lines
    }
}
