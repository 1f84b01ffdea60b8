/// The middle value of `values` (the mean of the two middle ones for an even count); NaN for none. The
/// benchmarks report medians: a shared machine's outliers are slow steps, not fast ones.
public func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
