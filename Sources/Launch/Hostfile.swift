import Foundation

/// An Open MPI hostfile: one host per line (`HOST slots=N max_slots=M`), `#` comments, blank lines.
public struct Hostfile: Equatable, Sendable {
    public struct Host: Equatable, Sendable {
        public var name: String
        /// Ranks that may start there (1 when not given).
        public var slots: Int
        /// The rest of the line (`max_slots=…`), kept when the file is written again.
        public var options: [String]

        public init(name: String, slots: Int = 1, options: [String] = []) {
            self.name = name
            self.slots = slots
            self.options = options
        }
    }

    public var hosts: [Host]

    /// The most slots a line may give (a bound, so that the total cannot overflow).
    public static let maxSlots = 1 << 20

    public init(hosts: [Host]) { self.hosts = hosts }

    /// Parses `text` (read from `path`, named in errors).
    public init(parsing text: String, path: String) throws {
        var hosts: [Host] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let name = words.first else { continue }
            var host = Host(name: name)
            for word in words.dropFirst() {
                if word.hasPrefix("slots=") {
                    guard let slots = Int(word.dropFirst(6)), (1...Hostfile.maxSlots).contains(slots) else {
                        throw LaunchError(
                            "\(path): line \(number + 1): '\(word)' is not slots=N with 1 ≤ N ≤ \(Hostfile.maxSlots)")
                    }
                    host.slots = slots
                } else {
                    host.options.append(word)
                }
            }
            hosts.append(host)
        }
        guard !hosts.isEmpty else { throw LaunchError("\(path): no hosts (expected lines such as 'node1 slots=2')") }
        self.hosts = hosts
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LaunchError("\(path): cannot be read")
        }
        try self.init(parsing: String(decoding: data, as: UTF8.self), path: path)
    }

    public var slots: Int { hosts.reduce(0) { $0 + $1.slots } }

    /// The host rank `rank` starts on when ranks fill each host's slots in order (mpirun's default
    /// `--map-by slot`).
    public func host(ofRank rank: Int) -> Host? {
        var first = 0
        for host in hosts {
            if rank < first + host.slots { return host }
            first += host.slots
        }
        return nil
    }

    public var text: String {
        hosts.map { ([$0.name, "slots=\($0.slots)"] + $0.options).joined(separator: " ") + "\n" }.joined()
    }
}
