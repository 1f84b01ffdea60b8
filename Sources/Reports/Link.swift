import Foundation

/// The network a scaling point ran on: this machine's shared memory, or the virtual cluster's TCP links
/// shaped to a rate (cluster/vcluster).
public struct Link: Codable, Sendable, Hashable, CustomStringConvertible, Comparable {
    /// "local" or a tc rate ("500mbit", "1gbit", "2gbit").
    public var name: String
    /// The shaped rate in bits per second; nil for shared memory.
    public var bitsPerSecond: Double?

    public init(parsing text: String) throws {
        let t = text.lowercased()
        name = t
        if t == "local" {
            bitsPerSecond = nil
            return
        }
        let units: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3)]
        guard let (suffix, scale) = units.first(where: { t.hasSuffix($0.0) }),
            let value = Double(t.dropLast(suffix.count)), value > 0
        else {
            throw ReportError("link '\(text)' is neither 'local' nor a rate such as 500mbit, 1gbit or 2gbit")
        }
        bitsPerSecond = value * scale
    }

    public var isLocal: Bool { bitsPerSecond == nil }
    public var description: String {
        guard let bits = bitsPerSecond else { return "shared memory" }
        return bits >= 1e9 ? String(format: "%g Gbit/s", bits / 1e9) : String(format: "%g Mbit/s", bits / 1e6)
    }

    /// Shared memory first, then by rate.
    public static func < (a: Link, b: Link) -> Bool { (a.bitsPerSecond ?? .infinity) > (b.bitsPerSecond ?? .infinity) }
}
