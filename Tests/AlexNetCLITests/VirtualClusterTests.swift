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
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(5)))
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

        let down = try Self.vcluster(["down"])
        #expect(down.status == 0, "\(down.stderr)")
        #expect(try Self.vcluster(["status"]).stdout.contains("down"))
        let namespaces = try runProcess("/usr/bin/env", ["ip", "netns", "list"]).stdout
        #expect(!namespaces.split(separator: "\n").contains { $0.hasPrefix("vt") }, "\(namespaces)")
    }

    @Test(.enabled(if: namespacesAvailable, "needs root and network namespaces (ip netns)"))
    func badArgumentsAreRefusedNamingTheFlag() throws {
        let hosts = try Self.vcluster(["up", "--hosts", "0"])
        #expect(hosts.status != 0)
        #expect(hosts.stderr.contains("--hosts '0' must be a number in 1...64"), "\(hosts.stderr)")
        let rate = try Self.vcluster(["up", "--rate", "fast"])
        #expect(rate.status != 0)
        #expect(rate.stderr.contains("rate 'fast' is not one of"), "\(rate.stderr)")
        let down = try Self.vcluster(["mpirun", "-n", "2", "hostname"])
        #expect(down.status != 0)
        #expect(down.stderr.contains("the cluster is down"), "\(down.stderr)")
    }
}
