#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Seconds of `CLOCK_MONOTONIC`: the clock every layer timing, timeline span and collective wait reads,
/// so spans recorded by different modules (and processes of one machine) line up.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
