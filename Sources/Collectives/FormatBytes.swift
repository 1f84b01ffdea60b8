import Foundation

/// A byte count for people: "77.01 MB", "12.3 KB", "24 B".
public func formatBytes(_ bytes: Double) -> String {
    if bytes >= 1e6 { return String(format: "%.2f MB", bytes / 1e6) }
    if bytes >= 1e3 { return String(format: "%.1f KB", bytes / 1e3) }
    return String(format: "%.0f B", bytes)
}
