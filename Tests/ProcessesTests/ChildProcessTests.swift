import Foundation
import Processes
import Testing

@Suite struct ChildProcessTests {
    @Test func returnsTheStatusAndBothStreams() throws {
        let result = try ChildProcess(["sh", "-c", "echo out; echo err >&2; exit 7"]).run()
        #expect(result.status == 7 && !result.timedOut)
        #expect(result.outputText == "out\n" && result.errorText == "err\n")
    }

    @Test func aSignalIsReportedAs128PlusItsNumber() throws {
        let result = try ChildProcess(["sh", "-c", "kill -USR1 $$"]).run()
        #expect(result.status == 128 + SIGUSR1)
    }

    @Test func mergedStreamsKeepTheirOrder() throws {
        let result = try ChildProcess(["sh", "-c", "echo 1; echo 2 >&2; echo 3"], mergeErrorIntoOutput: true).run()
        #expect(result.outputText == "1\n2\n3\n" && result.error.isEmpty)
    }

    @Test func environmentAndDirectoryAreTheGivenOnes() throws {
        let result = try ChildProcess(
            ["sh", "-c", "echo $ONLY_THIS; pwd"], environment: ["ONLY_THIS": "yes", "PATH": "/usr/bin:/bin"],
            directory: "/usr"
        ).run()
        #expect(result.outputText == "yes\n/usr\n")
    }

    /// Note [waiting for a child]: a grandchild that keeps the pipes open (as a daemon does) does not keep
    /// the run waiting once the child has exited.
    @Test func aGrandchildHoldingThePipesDoesNotHoldTheRun() throws {
        let started = Date()
        let result = try ChildProcess(["sh", "-c", "sleep 60 & echo parent done"]).run()
        #expect(result.status == 0 && result.outputText == "parent done\n")
        #expect(Date().timeIntervalSince(started) < 50, "waited for the grandchild")
    }

    /// The deadline ends the child's whole process group: SIGTERM, then SIGKILL for what ignores it.
    @Test func theDeadlineKillsTheProcessGroup() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)").path
        var child = ChildProcess(
            ["sh", "-c", "trap '' TERM; (trap '' TERM; sleep 4; touch \(marker)) & sleep 60"], timeout: 0.5)
        child.killGrace = 0.5
        let started = Date()
        let result = try child.run()
        #expect(result.timedOut && result.status == 128 + SIGKILL)
        // Had the grandchild survived, it would have touched the marker 4 s after the start.
        Thread.sleep(forTimeInterval: max(0, 4.5 - Date().timeIntervalSince(started)))
        #expect(!FileManager.default.fileExists(atPath: marker), "the grandchild outlived the deadline")
    }

    @Test func aMissingProgramIsAnError() {
        #expect(throws: ChildProcessError.self) { try ChildProcess(["no-such-program-anywhere"]).run() }
    }

    @Test func outputArrivesAsItIsWritten() throws {
        var pieces: [String] = []
        var pid: pid_t = 0
        let result = try ChildProcess(["sh", "-c", "echo a; sleep 0.2; echo b >&2"]).run(
            started: { pid = $0 },
            received: { data, isError in pieces.append((isError ? "E" : "O") + String(decoding: data, as: UTF8.self)) })
        #expect(pid > 0 && result.status == 0)
        #expect(pieces == ["Oa\n", "Eb\n"])
    }
}
