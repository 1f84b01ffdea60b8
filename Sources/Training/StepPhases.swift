import Collectives

/// Where one rank's training-step time went, derived from its `Timeline` spans.
///
/// The compute thread's time is split into its compute spans (by stage: conv forward, conv backward, the
/// FC stack with its loss, the optimizer update) and the time it was blocked: inside a collective it
/// called itself or waiting for a transfer thread's. The blocked time is the **exposed** communication.
/// Communication that ran on transfer threads while the compute thread computed is **overlapped**: the
/// wall time during which some collective was in flight, less the exposed time. Compression is the
/// encoders' and decoders' time on any thread. `other` is what no span covers (bookkeeping, copies).
/// The compute phases, exposed communication and `other` add up to the step time.
public struct StepPhases: Codable, Sendable, Equatable {
    /// Span-name prefixes the trainer gives its compute spans, by stage.
    public static let convStage = "conv/"
    public static let fullyConnectedStage = "fc/"
    public static let updateStage = "update/"

    public var stepSeconds = 0.0
    public var convForward = 0.0
    public var convBackward = 0.0
    /// The FC layers (their exclusive compute: a sharded FC stack's own collectives are exposed
    /// communication), the loss and, in hybrid schemes, accumulating sub-batch gradients.
    public var fullyConnected = 0.0
    public var update = 0.0
    public var communicationExposed = 0.0
    public var communicationOverlapped = 0.0
    public var compression = 0.0
    public var other = 0.0

    public init() {}

    /// The phases of the step from `start` to `end` (`CLOCK_MONOTONIC` seconds) in `spans` (one rank's).
    public init(spans: [Timeline.Span], from start: Double, to end: Double) {
        stepSeconds = end - start
        let clipped = spans.compactMap { span -> Timeline.Span? in
            var s = span
            s.start = max(s.start, start)
            s.end = min(s.end, end)
            return s.end > s.start ? s : nil
        }
        let computeLane = clipped.filter { $0.lane == "compute" }
        let blocked = Intervals(
            computeLane.filter { $0.category == .communication || $0.category == .wait }.map { ($0.start, $0.end) })
        communicationExposed = blocked.length
        let inFlight = Intervals(clipped.filter { $0.category == .communication }.map { ($0.start, $0.end) })
        communicationOverlapped = max(0, inFlight.length - inFlight.overlap(with: blocked))
        compression = Intervals(clipped.filter { $0.category == .compression }.map { ($0.start, $0.end) }).length
        for span in computeLane where span.category == .compute {
            let exclusive = (span.end - span.start) - blocked.overlap(with: Intervals([(span.start, span.end)]))
            if span.name.hasPrefix(StepPhases.convStage) {
                if span.name.hasSuffix("forward") { convForward += exclusive } else { convBackward += exclusive }
            } else if span.name.hasPrefix(StepPhases.fullyConnectedStage) {
                fullyConnected += exclusive
            } else if span.name.hasPrefix(StepPhases.updateStage) {
                update += exclusive
            }
        }
        other = max(0, stepSeconds - (convForward + convBackward + fullyConnected + update + communicationExposed))
    }

    /// The mean of several steps' (or ranks') phases.
    public static func mean(_ phases: [StepPhases]) -> StepPhases {
        var m = StepPhases()
        guard !phases.isEmpty else { return m }
        let n = Double(phases.count)
        for keyPath in StepPhases.allSeconds {
            m[keyPath: keyPath] = phases.map { $0[keyPath: keyPath] }.reduce(0, +) / n
        }
        return m
    }

    /// Every figure divided by `factor` (a time-dilated run's phases in the emulated cluster's time).
    public func dilated(by factor: Double) -> StepPhases {
        var m = self
        for keyPath in StepPhases.allSeconds { m[keyPath: keyPath] /= factor }
        return m
    }

    nonisolated(unsafe) static let allSeconds: [WritableKeyPath<StepPhases, Double>] = [
        \.stepSeconds, \.convForward, \.convBackward, \.fullyConnected, \.update, \.communicationExposed,
        \.communicationOverlapped, \.compression, \.other,
    ]
}

/// A union of disjoint, sorted intervals.
struct Intervals {
    private(set) var parts: [(Double, Double)] = []

    init(_ intervals: [(Double, Double)]) {
        for (a, b) in intervals.sorted(by: { $0.0 < $1.0 }) where b > a {
            if let last = parts.last, a <= last.1 {
                parts[parts.count - 1].1 = max(last.1, b)
            } else {
                parts.append((a, b))
            }
        }
    }

    var length: Double { parts.reduce(0) { $0 + ($1.1 - $1.0) } }

    /// The length of the intersection with `other`.
    func overlap(with other: Intervals) -> Double {
        var total = 0.0, i = 0, j = 0
        while i < parts.count && j < other.parts.count {
            let a = max(parts[i].0, other.parts[j].0), b = min(parts[i].1, other.parts[j].1)
            if b > a { total += b - a }
            if parts[i].1 < other.parts[j].1 { i += 1 } else { j += 1 }
        }
        return total
    }
}
