import Foundation

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The process's peak resident memory so far, in bytes: VmHWM of /proc/self/status, the peak of this
/// program's own memory map. (`getrusage`'s `ru_maxrss`, the fallback, also counts the peak of the
/// process that spawned it: exec folds the old memory map's peak in, and a child spawned with vfork
/// shares its parent's until then, so a rank started by a large launcher reported the launcher's peak.)
public func peakResidentBytes() -> Int {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    {
        return kilobytes * 1024
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}
