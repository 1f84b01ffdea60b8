import Foundation
import Timing

/// The watchdog's board across processes and hosts: every rank's process sends its ranks' states as small
/// UDP datagrams to every other rank's process, every interval, outside MPI (a rank stuck inside MPI, or
/// stopped, cannot hold the others' heartbeats back). Datagrams carry the job's token and are checked
/// field by field; anything else arriving on the port is ignored.
public final class UDPHeartbeats: PeerBoard, @unchecked Sendable {
    private let socket: Int32
    private let lock = NSLock()
    private var token: UInt64 = 0
    private var destinations: [sockaddr_in] = []
    private var latest: [Int: (state: RankState, at: Double)] = [:]

    /// Opens a UDP socket on every interface, on a port the system picks.
    public init() throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else {
            throw CollectiveError(
                rank: -1, collective: "watchdog", problem: "no UDP socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(socket)
            throw CollectiveError(
                rank: -1, collective: "watchdog", problem: "cannot bind a UDP port: \(String(cString: strerror(errno)))"
            )
        }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(socket) }

    /// Where this process listens: its port and every IPv4 address of its interfaces, as bytes to share
    /// with the other ranks (`connect`).
    public var address: [UInt8] {
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        var bytes = withUnsafeBytes(of: bound.sin_port) { Array($0) }
        var interfaces: UnsafeMutablePointer<ifaddrs>?
        if getifaddrs(&interfaces) == 0 {
            var next = interfaces
            while let entry = next {
                if let a = entry.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET),
                    entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
                {
                    let ip = a.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                    bytes += withUnsafeBytes(of: ip) { Array($0) }
                }
                next = entry.pointee.ifa_next
            }
            freeifaddrs(interfaces)
        }
        return bytes
    }

    /// Sends from now on to every address of every other rank's process (`addresses`: every rank's
    /// `address`, in rank order); `token` identifies the job.
    public func connect(addresses: [[UInt8]], rank: Int, token: UInt64) {
        var targets: [sockaddr_in] = []
        for (q, bytes) in addresses.enumerated() where q != rank && bytes.count >= 2 && (bytes.count - 2) % 4 == 0 {
            let port = bytes.withUnsafeBytes { $0.loadUnaligned(as: in_port_t.self) }
            for offset in stride(from: 2, to: bytes.count, by: 4) {
                var target = sockaddr_in()
                target.sin_family = sa_family_t(AF_INET)
                target.sin_port = port
                target.sin_addr.s_addr = bytes.withUnsafeBytes {
                    $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                }
                targets.append(target)
            }
        }
        lock.lock()
        destinations = targets
        self.token = token
        lock.unlock()
    }

    private static let magic: UInt32 = 0x4158_4842  // "AXHB"

    public func publish(_ states: [RankState]) {
        lock.lock()
        let targets = destinations, token = self.token
        lock.unlock()
        for state in states {
            var packet = Packet()
            packet.put(UDPHeartbeats.magic)
            packet.put(token)
            packet.put(UInt32(state.rank))
            packet.put(UInt64(state.step))
            packet.put(state.phase.rawValue)
            packet.put(state.waited.bitPattern)
            packet.put(UInt64(state.waitID))
            let name = Array((state.collective ?? "").utf8.prefix(200))
            packet.put(UInt8(state.collective == nil ? 0 : 1))
            packet.put(UInt16(name.count))
            packet.bytes += name
            for var target in targets {
                _ = packet.bytes.withUnsafeBytes { data in
                    withUnsafePointer(to: &target) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(
                                socket, data.baseAddress, data.count, Int32(MSG_DONTWAIT), $0,
                                socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                }
            }
        }
    }

    public func heard() -> [Int: (state: RankState, secondsAgo: Double)] {
        var buffer = [UInt8](repeating: 0, count: 512)
        let now = monotonicSeconds()
        lock.lock()
        defer { lock.unlock() }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { break }
            if let state = UDPHeartbeats.parse(buffer.prefix(n), token: token) { latest[state.rank] = (state, now) }
        }
        return latest.mapValues { ($0.state, now - $0.at) }
    }

    /// A heartbeat's state, or nil for anything that is not one of this job's heartbeats.
    static func parse(_ bytes: ArraySlice<UInt8>, token: UInt64) -> RankState? {
        var reader = Reader(bytes: Array(bytes))
        guard reader.take(UInt32.self) == magic, reader.take(UInt64.self) == token,
            let rank = reader.take(UInt32.self), let step = reader.take(UInt64.self),
            let phase = reader.take(UInt8.self).flatMap(RankStatus.Phase.init(rawValue:)),
            let waited = reader.take(UInt64.self).map(Double.init(bitPattern:)), waited.isFinite,
            let waitID = reader.take(UInt64.self), let waiting = reader.take(UInt8.self),
            let length = reader.take(UInt16.self), let name = reader.take(bytes: Int(length)),
            rank < 1 << 20, step < 1 << 62, waitID < 1 << 62
        else { return nil }
        return RankState(
            rank: Int(rank), step: Int(step), phase: phase,
            collective: waiting == 1 ? String(decoding: name, as: UTF8.self) : nil, waited: waited,
            waitID: Int(waitID))
    }

    private struct Packet {
        var bytes: [UInt8] = []
        mutating func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        mutating func take<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard offset + size <= bytes.count else { return nil }
            defer { offset += size }
            return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) })
        }
        mutating func take(bytes count: Int) -> ArraySlice<UInt8>? {
            guard offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }
    }
}
