import Foundation

/// How far a computed tensor lies from its reference, over the elements checked.
///
/// The figure tests bound is `relative`: the largest absolute difference over the largest absolute
/// reference value, per tensor. It is the measure the numerics issue (22) was stated in, it does not blow up
/// on elements that happen to be near zero, and float32 arithmetic with any summation order keeps it near
/// the accumulated rounding error (1e-7 to 1e-6 for the sums here).
public struct Discrepancy: Sendable, CustomStringConvertible {
    public var maxDifference = 0.0
    public var maxReference = 0.0
    public var sumSquaredDifference = 0.0
    public var sumSquaredReference = 0.0
    /// The index with the largest difference.
    public var worstIndex = -1
    public var checked = 0

    public init() {}

    /// Compares `actual` with `reference(i)` at `indices` (every index when nil), computing the references on
    /// every core.
    public init(actual: [Float], indices: [Int]? = nil, reference: @Sendable (Int) -> Double) {
        let at = indices ?? Array(actual.indices)
        let expected = ReferenceTensor.computed([at.count]) { reference(at[$0]) }.values
        for (k, i) in at.enumerated() { add(actual: Double(actual[i]), reference: expected[k], at: i) }
    }

    /// Compares two whole tensors.
    public init(actual: [Float], reference: [Double]) {
        precondition(actual.count == reference.count, "discrepancy: \(actual.count) values against \(reference.count)")
        for i in actual.indices { add(actual: Double(actual[i]), reference: reference[i], at: i) }
    }

    public mutating func add(actual: Double, reference: Double, at index: Int) {
        let difference = actual.isFinite ? abs(actual - reference) : .infinity
        if difference > maxDifference || worstIndex < 0 { maxDifference = difference; worstIndex = index }
        maxReference = max(maxReference, abs(reference))
        sumSquaredDifference += difference * difference
        sumSquaredReference += reference * reference
        checked += 1
    }

    /// max |actual − reference| / max |reference| (0 when both are zero).
    public var relative: Double {
        maxDifference == 0 ? 0 : maxDifference / max(maxReference, .leastNormalMagnitude)
    }

    /// ‖actual − reference‖₂ / ‖reference‖₂.
    public var l2Relative: Double {
        sumSquaredDifference == 0
            ? 0 : (sumSquaredDifference / max(sumSquaredReference, .leastNormalMagnitude)).squareRoot()
    }

    public var description: String {
        String(format: "relative %.2e (L2 %.2e) over %d elements", relative, l2Relative, checked)
    }
}

/// Up to `count` distinct indices below `total`, the same for the same arguments (all of them when
/// `total <= count`), always including the first and the last.
public func sampledIndices(_ total: Int, count: Int, seed: UInt64) -> [Int] {
    guard total > count else { return Array(0..<total) }
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    var chosen = Set([0, total - 1])
    while chosen.count < count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        chosen.insert(Int((state >> 11) % UInt64(total)))
    }
    return chosen.sorted()
}
