import Foundation
import Testing

/// cluster/vcluster: a 2-host virtual cluster of network namespaces, a short `mpirun` training job across
/// it over shaped TCP links, and the teardown.
@Suite(.serialized) struct VirtualClusterTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("cluster/vcluster").path

    /// Names and addresses of its own, so that it runs beside a cluster someone has up.
    static let environment = TrainParallelTests.mpiEnvironment.merging([
        "VCLUSTER_PREFIX": "vt", "VCLUSTER_SUBNET": "10.78.0",
    ]) { $1 }

    /// Root, iproute2 and a kernel that lets this process make network namespaces.
    static let namespacesAvailable: Bool = {
        guard getuid() == 0,
            let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return false }
        let name = "vtprobe\(getpid())"
        guard let made = try? runProcess(ip, ["netns", "add", name]), made.status == 0 else { return false }
        _ = try? runProcess(ip, ["netns", "del", name])
        return true
    }()

    static func vcluster(_ arguments: [String]) throws -> Outcome {
        try runProcess(script, arguments, environment: environment)
    }

    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .enabled(if: namespacesAvailable, "needs root and network namespaces (ip netns)"),
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func twoHostsTrainOverShapedTCPLinksAsTheSimulationDoes() throws {
        defer { _ = try? Self.vcluster(["down"]) }
        let up = try Self.vcluster(["up", "--hosts", "2", "--rate", "1gbit"])
        #expect(up.status == 0, "\(up.stderr)")
        // Idempotent: up again in the same shape changes nothing and succeeds.
        #expect(try Self.vcluster(["up", "--hosts", "2", "--rate", "1gbit"]).status == 0)
        let status = try Self.vcluster(["status"])
        #expect(status.stdout.contains("up, 2 hosts, rate 1gbit"), "\(status.stdout)")
        #expect(status.stdout.contains("10.78.0.2 eth0 rate 1Gbit"), "\(status.stdout)")

        // One rank per host, each in its own namespace with its own hostname.
        let hosts = try Self.vcluster(["mpirun", "-n", "2", "hostname"])
        #expect(hosts.status == 0, "\(hosts.stderr)")
        #expect(hosts.stdout.split(separator: "\n").sorted() == ["vt1", "vt2"], "\(hosts.stdout)")

        // A short training job across the hosts over TCP equals the 2-rank simulation bit for bit.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trained = try Self.vcluster(["mpirun", "-n", "2", tool, "train"] + TrainParallelTests.flags(directory))
        #expect(trained.status == 0, "\(trained.stderr)")
        let model = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/model.safetensors"))
        let (simulatedStatus, _, simulated) = try TrainParallelTests.train(mpiRanks: nil, ["--simulate", "2"])
        #expect(simulatedStatus == 0)
        #expect(model == simulated)

        // Dilated ×2 (Note [time dilation]): the links at half the rate, each host's processes under a quota of
        // half a core; the same job still equals the simulation. (Needs the cgroup v1 cpu controller.)
        if FileManager.default.isWritableFile(atPath: "/sys/fs/cgroup/cpu") {
            try dilatedHostsRunUnderTheirQuota(directory: directory, simulated: simulated)
        } else {
            print("vcluster test: no writable /sys/fs/cgroup/cpu: the dilated cluster is not tested here")
        }

        let down = try Self.vcluster(["down"])
        #expect(down.status == 0, "\(down.stderr)")
        #expect(try Self.vcluster(["status"]).stdout.contains("down"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/alexnet-vcluster-vt"))
        let namespaces = try runProcess("/usr/bin/env", ["ip", "netns", "list"]).stdout
        #expect(!namespaces.split(separator: "\n").contains { $0.hasPrefix("vt") }, "\(namespaces)")
    }

    private func dilatedHostsRunUnderTheirQuota(directory: String, simulated: Data?) throws {
        let dilated = try Self.vcluster(["up", "--hosts", "2", "--rate", "1gbit", "--dilate", "2"])
        #expect(dilated.status == 0, "\(dilated.stderr)")
        let slowed = try Self.vcluster(["status"])
        #expect(slowed.stdout.contains("dilation 2") && slowed.stdout.contains("eth0 rate 500Mbit"), "\(slowed.stdout)")
        let groups = try Self.vcluster(["mpirun", "-n", "2", "grep", ":cpu:", "/proc/self/cgroup"])
        #expect(
            groups.stdout.split(separator: "\n").sorted() == [
                "1:cpu:/alexnet-vcluster-vt/vt1", "1:cpu:/alexnet-vcluster-vt/vt2",
            ], "\(groups.stdout) \(groups.stderr)")
        let quota = try String(
            contentsOfFile: "/sys/fs/cgroup/cpu/alexnet-vcluster-vt/vt1/cpu.cfs_quota_us", encoding: .utf8)
        #expect(quota.trimmingCharacters(in: .whitespacesAndNewlines) == "5000")
        let again = try Self.vcluster(["mpirun", "-n", "2", tool, "train"] + TrainParallelTests.flags(directory))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/model.safetensors")) == simulated)

    }

    @Test(.enabled(if: namespacesAvailable, "needs root and network namespaces (ip netns)"))
    func badArgumentsAreRefusedNamingTheFlag() throws {
        let hosts = try Self.vcluster(["up", "--hosts", "0"])
        #expect(hosts.status != 0)
        #expect(hosts.stderr.contains("--hosts '0' must be a number in 1...64"), "\(hosts.stderr)")
        let rate = try Self.vcluster(["up", "--rate", "fast"])
        #expect(rate.status != 0)
        #expect(rate.stderr.contains("rate 'fast' is not one of"), "\(rate.stderr)")
        let dilation = try Self.vcluster(["up", "--dilate", "0.5"])
        #expect(dilation.status != 0)
        #expect(dilation.stderr.contains("--dilate '0.5' must be a factor from 1 to 64 or auto"), "\(dilation.stderr)")
        let down = try Self.vcluster(["mpirun", "-n", "2", "hostname"])
        #expect(down.status != 0)
        #expect(down.stderr.contains("the cluster is down"), "\(down.stderr)")
    }

    /// `alexnet-dist launch` on 4 hosts: one host's rank is killed mid-run; the run restarts on the other 3
    /// from the newest checkpoint and finishes (Note [restart on the survivors]). Prints its test accuracy
    /// beside the uninterrupted 4-rank run's.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .enabled(if: namespacesAvailable, "needs root and network namespaces (ip netns)"),
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func aRunRestartsOnTheSurvivingHostsWhenARankDies() throws {
        defer { _ = try? Self.vcluster(["down"]) }
        #expect(try Self.vcluster(["up", "--hosts", "4", "--rate", "1gbit"]).status == 0)
        let hostfile = try Self.vcluster(["hostfile"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let train = [
            "train", "--max-steps", "40", "--batch-size", "16", "--train-limit", "2000", "--test-limit", "500",
            "--threads", "1", "--log-every", "1", "--checkpoint-every", "5",
        ]
        let launch = BackgroundProcess(
            tool,
            ["launch", "--hostfile", hostfile, "--launcher", "\(Self.script) mpirun", "--max-restarts", "1", "--"]
                + train + [
                    "--checkpoint", "\(directory)/ck.safetensors", "--output", "\(directory)/model.safetensors",
                    "--metrics", "\(directory)/metrics.jsonl",
                ], environment: Self.environment)
        func steps() -> Int {
            ((try? String(contentsOfFile: "\(directory)/metrics.jsonl", encoding: .utf8)) ?? "")
                .components(separatedBy: "\"event\":\"step\"").count - 1
        }
        let deadline = Date().addingTimeInterval(120)
        while steps() < 8 && launch.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        // Kill the rank on the third host.
        let pids = try runProcess("/usr/bin/env", ["ip", "netns", "pids", "vt3"]).stdout.split(separator: "\n")
        var killed = 0
        for pid in pids {
            let commandLine = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            if commandLine.contains("alexnet-dist") && commandLine.contains("\0train\0"), let p = Int32(pid) {
                kill(p, SIGKILL)
                killed += 1
            }
        }
        #expect(killed == 1)
        let launched = try launch.wait()
        let said = launched.stdout + launched.stderr
        #expect(launched.status == 0, "\(said)")
        #expect(said.contains("restart 1 of 1 on 3 hosts"), "\(said)")
        #expect(said.contains("across 3 ranks") && said.contains("resuming from"), "\(said)")
        let restarted = said.split(separator: "\n").last { $0.hasPrefix("small:") }
        let uninterrupted = try runTool(
            train.filter { $0 != "--checkpoint-every" && $0 != "5" } + [
                "--simulate", "4", "--output", "\(directory)/simulated.safetensors", "--metrics",
                "\(directory)/simulated.jsonl", "--checkpoint", "\(directory)/simulated-ck.safetensors",
            ]
        ).stdout.split(separator: "\n").last { $0.hasPrefix("small:") }
        print("restart on the survivors: \(restarted ?? "?")\n  uninterrupted 4 ranks: \(uninterrupted ?? "?")")
        #expect(restarted != nil && uninterrupted != nil)
    }
}
