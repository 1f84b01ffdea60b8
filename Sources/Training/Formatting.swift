import Foundation

/// `1h02m03s`, `4m05s`, `7s`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm%02ds", s / 3600, s % 3600 / 60, s % 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}

/// 62378344 → "62,378,344".
public func grouped(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    var out = n < 0 ? "-" : ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}
