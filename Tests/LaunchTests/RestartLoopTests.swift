import Foundation
import Testing

@testable import Launch

/// Note [restart on the survivors]: hostfiles, which host a failure is pinned on, and the loop's decisions,
/// with a scripted launcher.
@Suite struct RestartLoopTests {
    static let hosts = try! Hostfile(
        parsing: "# four nodes\nnode1 slots=2 max_slots=4\nnode2 slots=2\n\nnode3   # one slot\nnode4 slots=1\n",
        path: "hosts")

    @Test func hostfilesAreReadAndWritten() throws {
        #expect(Self.hosts.hosts.map(\.name) == ["node1", "node2", "node3", "node4"])
        #expect(Self.hosts.slots == 6)
        #expect(Self.hosts.host(ofRank: 3)?.name == "node2" && Self.hosts.host(ofRank: 4)?.name == "node3")
        #expect(Self.hosts.host(ofRank: 6) == nil)
        #expect(Self.hosts.text.hasPrefix("node1 slots=2 max_slots=4\nnode2 slots=2\nnode3 slots=1\n"))
        #expect(throws: LaunchError("h: line 2: 'slots=0' is not slots=N with 1 ≤ N ≤ 1048576")) {
            try Hostfile(parsing: "a\nb slots=0\n", path: "h")
        }
        // Slots whose total would overflow (seen while writing the cli fuzz target).
        #expect(throws: LaunchError("h: line 1: 'slots=9223372036854775807' is not slots=N with 1 ≤ N ≤ 1048576")) {
            try Hostfile(parsing: "a slots=9223372036854775807\nb slots=9223372036854775807\n", path: "h")
        }
        #expect(throws: LaunchError("h: no hosts (expected lines such as 'node1 slots=2')")) {
            try Hostfile(parsing: "# nothing\n", path: "h")
        }
    }

    @Test func aFailureIsPinnedOnTheHostThatLostIt() {
        let answers: (Hostfile.Host) -> Bool = { _ in true }
        let killed = "mpirun noticed that process rank 3 with PID 99 on node node2 exited on signal 9 (Killed)."
        #expect(RestartLoop.failedHosts(output: killed, hostfile: Self.hosts, probe: answers)?.hosts == ["node2"])
        let watchdog =
            "alexnet-dist: error: rank 0 waited 60 s in fc6 forward at step 7 (training), longer than --collective-timeout 60 s: rank 5 has not been heard from for 61 s (stopped, hung or unreachable)"
        #expect(RestartLoop.failedHosts(output: watchdog, hostfile: Self.hosts, probe: answers)?.hosts == ["node4"])
        // A host that does not answer is dropped whatever the output says.
        let silent = RestartLoop.failedHosts(output: killed, hostfile: Self.hosts) { $0.name != "node3" }
        #expect(silent?.hosts == ["node3"])
        #expect(
            RestartLoop.failedHosts(
                output: "alexnet-dist: error: --lr must be > 0", hostfile: Self.hosts, probe: answers) == nil)
    }

    @Test func theLoopRestartsOnTheSurvivorsAndStopsOnFinalStatuses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loop = RestartLoop(
            launcher: ["mpirun"], hostfile: Self.hosts, maxRestarts: 2, command: ["alexnet-dist", "train"],
            directory: directory)
        var launched: [[String]] = [], hostfiles: [String] = [], said: [String] = []
        var outcomes: [(Int32, String)] = [
            (1, "mpirun noticed that process rank 4 with PID 7 on node node3 exited on signal 9 (Killed)."),
            (0, ""),
        ]
        let status = try loop.run(
            execute: { arguments in
                launched.append(arguments)
                hostfiles.append(try String(contentsOfFile: arguments[2], encoding: .utf8))
                return outcomes.removeFirst()
            }, probe: { _ in true }, say: { said.append($0) })
        #expect(status == 0 && launched.count == 2)
        #expect(launched[0].suffix(6) == ["-n", "6", "alexnet-dist", "train", "--resume", "auto"])
        #expect(launched[1].contains("5") && !hostfiles[1].contains("node3") && hostfiles[0].contains("node3"))
        #expect(said.count == 1 && said[0].contains("restart 1 of 2 on 3 hosts"), "\(said)")

        // A stop on a signal, divergence or a plain error are not retried; restarts run out.
        for (status, output) in [(Int32(75), ""), (3, ""), (1, "alexnet-dist: error: bad flag")] {
            var runs = 0
            let result = try loop.run(
                execute: { _ in
                    runs += 1
                    return (status, output)
                }, probe: { _ in true }, say: { _ in })
            #expect(result == status && runs == 1)
        }
        var runs = 0
        let exhausted = try loop.run(
            execute: { _ in
                runs += 1
                return (137, "mpirun noticed that process rank 0 with PID 1 on node node1 exited on signal 9 (Killed).")
            }, probe: { _ in true }, say: { _ in })
        #expect(exhausted == 137 && runs == 3)
    }
}
