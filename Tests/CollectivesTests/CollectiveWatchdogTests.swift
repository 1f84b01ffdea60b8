import Foundation
import Testing

@testable import Collectives

/// Note [collective watchdog]: a waiting rank learns who is missing from what the others publish, without
/// the missing rank's help.
@Suite struct CollectiveWatchdogTests {
    /// A board whose other ranks say what a test tells them to.
    final class ScriptedBoard: PeerBoard, @unchecked Sendable {
        var others: [Int: (state: RankState, secondsAgo: Double)] = [:]
        var published: [RankState] = []
        func publish(_ states: [RankState]) { published = states }
        func heard() -> [Int: (state: RankState, secondsAgo: Double)] {
            var all = others
            for state in published { all[state.rank] = (state, 0) }
            return all
        }
    }

    /// Rank 0 waits in a collective: rank 1 (silent for 30 s, as a stopped process is) and rank 3 (busy
    /// outside any collective) are named, rank 2 (waiting in the same collective) is not; one warning at
    /// `warnAfter`, the abort message at `timeout`.
    @Test func aStalledCollectiveNamesTheRanksThatHaveNotArrived() throws {
        let status = RankStatus(rank: 0)
        status.set(step: 6, phase: .training)
        let board = ScriptedBoard()
        board.others = [
            1: (RankState(rank: 1, step: 6, phase: .training, collective: nil, waited: 0), 30),
            2: (RankState(rank: 2, step: 6, phase: .training, collective: "allReduce", waited: 0.2), 0.5),
            3: (RankState(rank: 3, step: 5, phase: .training, collective: nil, waited: 0), 0.5),
        ]
        var settings = CollectiveWatchdog.Settings(timeout: 0.4)
        settings.warnAfter = 0.15
        let warnings = Lines()
        let dog = CollectiveWatchdog(
            settings: settings, local: [status], worldSize: 4, board: board, warn: { warnings.add($0) },
            abort: { _ in })
        #expect(dog.check() == nil, "not waiting")
        let wait = status.enter("allReduce")
        defer { status.leave(wait) }
        #expect(dog.check() == nil && warnings.all.isEmpty)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(dog.check() == nil)
        #expect(dog.check() == nil)
        #expect(warnings.all.count == 1, "one warning per wait: \(warnings.all)")
        Thread.sleep(forTimeInterval: 0.25)
        let message = try #require(dog.check())
        #expect(
            message.hasPrefix("rank 0 waited 0 s in allReduce at step 7 (training), longer than --collective-timeout"))
        #expect(message.contains("rank 1 has not been heard from for 30 s (stopped, hung or unreachable)"))
        #expect(message.contains("rank 3 is training at step 6, outside any collective"))
        #expect(!message.contains("rank 2"), "\(message)")
    }

    /// The first step, evaluation and checkpoints may wait longer for one rank: three times the timeout.
    @Test func slowPhasesWaitLonger() throws {
        let status = RankStatus(rank: 0)
        status.set(step: 0, phase: .checkpointing)
        let board = ScriptedBoard()
        let dog = CollectiveWatchdog(
            settings: CollectiveWatchdog.Settings(timeout: 0.1), local: [status], worldSize: 1, board: board,
            warn: { _ in }, abort: { _ in })
        let wait = status.enter("allGather")
        defer { status.leave(wait) }
        Thread.sleep(forTimeInterval: 0.15)
        #expect(dog.check() == nil)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(dog.check() != nil)
    }

    /// Heartbeats cross UDP between two boards of one job; datagrams of another job, or damaged ones, are
    /// ignored.
    @Test func heartbeatsTravelOverUDPAndForeignDatagramsAreIgnored() throws {
        let a = try UDPHeartbeats(), b = try UDPHeartbeats()
        let addresses = [a.address, b.address]
        a.connect(addresses: addresses, rank: 0, token: 42)
        b.connect(addresses: addresses, rank: 1, token: 42)
        let state = RankState(rank: 0, step: 12, phase: .evaluating, collective: "barrier", waited: 1.5, waitID: 3)
        a.publish([state])
        var heard = b.heard()
        for _ in 0..<40 where heard[0] == nil {
            Thread.sleep(forTimeInterval: 0.05)
            heard = b.heard()
        }
        #expect(heard[0]?.state == state)
        #expect(b.heard()[1] == nil, "b hears only the others")

        var packet: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { packet += $0 } }
        put(UInt32(0x4158_4842)); put(UInt64(42)); put(UInt32(2)); put(UInt64(1)); put(UInt8(1))
        put(Double(0).bitPattern); put(UInt64(0)); put(UInt8(0)); put(UInt16(0))
        #expect(UDPHeartbeats.parse(packet[...], token: 42)?.rank == 2)
        #expect(UDPHeartbeats.parse(packet[...], token: 43) == nil, "another job")
        #expect(UDPHeartbeats.parse(packet.dropLast(1), token: 42) == nil, "truncated")
        var badPhase = packet
        badPhase[24] = 99
        #expect(UDPHeartbeats.parse(badPhase[...], token: 42) == nil, "unknown phase")
    }
}

/// Lines collected from another thread.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
