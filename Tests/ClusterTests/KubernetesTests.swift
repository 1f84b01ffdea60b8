import Foundation
import Testing
import Yams

/// cluster/kubernetes: no container engine or Kubernetes runs here, so what can be checked is checked: the
/// manifests parse, the MPIJob uses only the Kubeflow MPI Operator's kubeflow.org/v2beta1 fields (from its
/// API types), its ranks, volumes and flags fit together, and the container recipe installs exactly what
/// Scripts/setup.sh installs (it runs it).
@Suite struct KubernetesTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    /// The MPI Operator's v2beta1 fields (pkg/apis/kubeflow/v2beta1/types.go and kubeflow/common's
    /// ReplicaSpec).
    static let specFields: Set<String> = [
        "slotsPerWorker", "runPolicy", "mpiReplicaSpecs", "sshAuthMountPath", "mpiImplementation",
        "launcherCreationPolicy", "runLauncherAsWorker", "waitForWorkers",
    ]
    static let runPolicyFields: Set<String> = [
        "cleanPodPolicy", "ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit", "schedulingPolicy",
        "suspend", "managedBy",
    ]
    static let replicaFields: Set<String> = ["replicas", "template", "restartPolicy"]

    static func documents() throws -> [[String: Any]] {
        try Yams.load_all(yaml: read("cluster/kubernetes/mpijob.yaml")).map { try #require($0 as? [String: Any]) }
    }

    @Test func theMPIJobUsesOnlyTheOperatorsV2beta1Fields() throws {
        let documents = try Self.documents()
        let job = try #require(documents.first { $0["kind"] as? String == "MPIJob" })
        #expect(job["apiVersion"] as? String == "kubeflow.org/v2beta1")
        let spec = try #require(job["spec"] as? [String: Any])
        #expect(Set(spec.keys).isSubset(of: Self.specFields), "\(spec.keys.sorted())")
        let runPolicy = try #require(spec["runPolicy"] as? [String: Any])
        #expect(Set(runPolicy.keys).isSubset(of: Self.runPolicyFields), "\(runPolicy.keys.sorted())")
        #expect(["All", "Running", "None"].contains(runPolicy["cleanPodPolicy"] as? String))
        #expect((runPolicy["backoffLimit"] as? Int).map { $0 >= 1 } == true)
        #expect(["OpenMPI", "Intel", "MPICH"].contains(spec["mpiImplementation"] as? String))
        let replicas = try #require(spec["mpiReplicaSpecs"] as? [String: Any])
        #expect(Set(replicas.keys) == ["Launcher", "Worker"])
        for (name, value) in replicas {
            let replica = try #require(value as? [String: Any], "\(name)")
            #expect(Set(replica.keys).isSubset(of: Self.replicaFields), "\(name): \(replica.keys.sorted())")
            #expect(["Always", "OnFailure", "Never", "ExitCode"].contains(replica["restartPolicy"] as? String))
            let pod = try #require((replica["template"] as? [String: Any])?["spec"] as? [String: Any])
            #expect(pod["containers"] is [Any] && pod["volumes"] is [Any], "\(name)")
        }
        #expect((replicas["Launcher"] as? [String: Any])?["replicas"] as? Int == 1)
    }

    /// The launcher starts Worker replicas × slotsPerWorker ranks, trains with checkpoints it resumes from,
    /// on the volume every pod mounts, with the workers' CPUs as threads.
    @Test func ranksVolumesAndFlagsFitTogether() throws {
        let documents = try Self.documents()
        let claim = try #require(documents.first { $0["kind"] as? String == "PersistentVolumeClaim" })
        let claimName = try #require((claim["metadata"] as? [String: Any])?["name"] as? String)
        let job = try #require(documents.first { $0["kind"] as? String == "MPIJob" })
        let spec = try #require(job["spec"] as? [String: Any])
        let replicas = try #require(spec["mpiReplicaSpecs"] as? [String: [String: Any]])
        func container(_ role: String) throws -> [String: Any] {
            let pod = try #require((replicas[role]?["template"] as? [String: Any])?["spec"] as? [String: Any])
            let volumes = try #require(pod["volumes"] as? [[String: Any]])
            #expect(
                volumes.contains {
                    ($0["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String == claimName
                })
            return try #require((pod["containers"] as? [[String: Any]])?.first)
        }
        let launcher = try container("Launcher"), worker = try container("Worker")
        let command = try #require(launcher["command"] as? [String])
        let ranks = (replicas["Worker"]?["replicas"] as? Int ?? 0) * (spec["slotsPerWorker"] as? Int ?? 1)
        func value(after flag: String) -> String? {
            command.firstIndex(of: flag).flatMap { command.indices.contains($0 + 1) ? command[$0 + 1] : nil }
        }
        #expect(command.first == "mpirun" && value(after: "-n") == String(ranks))
        #expect(command.contains("train") && value(after: "--resume") == "auto")
        #expect(value(after: "--checkpoint")?.hasPrefix("/data/") == true && value(after: "--checkpoint-every") != nil)
        let cpus = ((worker["resources"] as? [String: Any])?["limits"] as? [String: Any])?["cpu"] as? String
        #expect(cpus != nil && value(after: "--threads") == cpus)
        for mounted in [launcher, worker] {
            let mounts = try #require(mounted["volumeMounts"] as? [[String: Any]])
            #expect(mounts.contains { $0["mountPath"] as? String == "/data" })
        }
        #expect((worker["command"] as? [String])?.joined(separator: " ").contains("sshd") == true)
    }

    /// The image is built by Scripts/setup.sh (its --container mode), so it installs exactly what the script
    /// installs, on the Debian release the script expects.
    @Test func theContainerRecipeRunsSetupSh() throws {
        let recipe = try Self.read("cluster/kubernetes/Dockerfile")
        let instructions = recipe.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        #expect(instructions.contains("FROM swift:") && instructions.contains("-bookworm"))
        #expect(instructions.contains("RUN Scripts/setup.sh --container"))
        #expect(!instructions.contains("apt-get install") && !instructions.contains("apt install"))
        let setup = try Self.read("Scripts/setup.sh")
        #expect(setup.contains("--container") && setup.contains("openssh-server"))
    }
}
