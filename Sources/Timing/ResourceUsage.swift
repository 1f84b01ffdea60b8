#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The process's peak resident memory so far, in bytes (`getrusage`'s `ru_maxrss`, kilobytes on Linux).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}
