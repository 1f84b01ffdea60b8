// swift-tools-version: 6.1
import PackageDescription

// MARK: - C shims over the system libraries (installed by Scripts/setup.sh)

let shims: [Target] = [
    .systemLibrary(
        name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
    // PMIx, the launcher's process-management interface Open MPI runs on (libpmix-dev comes with
    // libopenmpi-dev): one fence right after MPI_Init (Note [leaving MPI_Init together]).
    .systemLibrary(name: "CPMIx", pkgConfig: "pmix", providers: [.apt(["libpmix-dev"])]),
    .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(
        name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
    // oneDNN 2.6 has no pkg-config file; the module map names the header and links `dnnl`.
    .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
    // Flush-to-zero / denormals-are-zero on the OpenMP threads oneDNN computes on (libgomp).
    .target(name: "CFloatMode", linkerSettings: [.linkedLibrary("gomp")]),
    // PNG decoding through libpng's full API (its errors longjmp, which C can catch and Swift cannot).
    .target(name: "CPNGDecode", linkerSettings: [.linkedLibrary("png16")]),
    // The codecs' element-wise loops (byte shuffle, bf16/fp16 casts with F16C chosen at run time, top-k).
    // posix_spawn's and pipe2's GNU extensions (close every inherited descriptor, a working directory).
    .target(name: "CSpawn"),
    // CRC-32C (Castagnoli) from Intel ISA-L, the checksum of TensorBoard's record framing.
    .systemLibrary(name: "CISAL", providers: [.apt(["libisal-dev"])]),
    .target(name: "CCodecKernels", cSettings: [.unsafeFlags(["-O3"])], cxxSettings: [.unsafeFlags(["-O3"])]),
]

// MARK: - Libraries by responsibility

let libraries: [Target] = [
    // The monotonic clock every timing and timeline span reads.
    .target(name: "Timing"),
    // Child processes run to their end with a deadline (mpirun for `launch`, gnuplot, the sweeps' tools).
    .target(name: "Processes", dependencies: ["CSpawn"]),
    // Tensors, layers (forward and backward side by side), the AlexNet variants, the parameter arena,
    // the optimiser and the safetensors format.
    .target(name: "Compute", dependencies: ["CDNNL", "CFloatMode", "CZlib", "Timing"]),
    // Data sets: gzip'd IDX (MNIST format) and JPEG folders, shuffling, normalisation, augmentation.
    .target(name: "Datasets", dependencies: ["Compute", "CZlib", "CTurboJPEG", "CPNGDecode", "Timing"]),
    // The Communicator protocol, its in-process implementation, metering, timelines and the compressed
    // allreduce.
    .target(name: "Collectives", dependencies: ["CCodecKernels", "CZstd", "CZlib", "Timing"]),
    // The Communicator over OpenMPI.
    .target(name: "MPIBackend", dependencies: ["Collectives", "CMPI", "CPMIx"]),
    // How a command gets its ranks: one process, K threads (--simulate) or an MPI job.
    .target(name: "Launch", dependencies: ["Collectives", "Compute", "MPIBackend"]),
    // TensorBoard event files (their protobuf messages, generated once by Scripts/generate-protos.sh and
    // committed; the record framing with ISA-L's CRC-32C): written by the trainer, read back by tests.
    .target(
        name: "TensorBoard",
        dependencies: ["CISAL", "Compute", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
        exclude: ["Protos"]),
    // The one trainer (K ranks; one process is K = 1): the parallel plan, the step schedules (data, hybrid
    // a/b/c), sharded FC layers, gradient buckets, the epoch loop, checkpoints, evaluation and metrics.
    .target(name: "Training", dependencies: ["Compute", "Datasets", "Collectives", "TensorBoard", "Timing"]),
    // Benchmarks: a training step's layers, the (compressed) allreduce, real training steps across ranks,
    // and the gradient capture they measure codecs on.
    .target(name: "Benchmarks", dependencies: ["Compute", "Datasets", "Collectives", "Training", "Timing"]),
    // Scaling reports: sweep results (JSON lines, CSV), the calibrated cost model, Chrome traces, the analysis
    // (load fit, predictions, extrapolation) and the Markdown report with its charts (rendered by gnuplot).
    .target(name: "Reports", dependencies: ["Compute", "Collectives", "Training", "Benchmarks", "Processes"]),
    // Running experiments: the scaling sweep (mpirun, the virtual cluster) and its calibration runs.
    .target(name: "Experiments", dependencies: ["Reports", "Benchmarks", "Training", "Collectives", "Compute"]),
]

// MARK: - The command-line tool

let executables: [Target] = [
    .executableTarget(
        name: "AlexNetCLI",
        dependencies: [
            "Training", "Compute", "Datasets", "Collectives", "MPIBackend", "Launch", "Benchmarks", "Reports",
            "Experiments", "Timing", "Processes", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ])
]

// MARK: - Tests (mirror Sources/)

let tests: [Target] = [
    // The corrupt-input suites' cases (truncations, bit flips) and their tally, shared by the readers' tests.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    // Naive float64 implementations of every layer (Note [reference kernels]), optimised even in debug
    // builds: the whole-step references run billions of multiply-adds.
    .target(
        name: "ReferenceKernels", dependencies: ["Compute"], path: "Tests/ReferenceKernels",
        swiftSettings: [.unsafeFlags(["-O"])]),
    .testTarget(name: "ProcessesTests", dependencies: ["Processes"]),
    // Optimised like ReferenceKernels: tracing a step and comparing millions of elements is most of this
    // target's time, and -Onone made it several times slower.
    .testTarget(
        name: "ComputeTests", dependencies: ["Compute", "Datasets", "Processes", "TestSupport", "ReferenceKernels"],
        swiftSettings: [.unsafeFlags(["-O"])]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Compute", "CTurboJPEG", "CZlib", "TestSupport"]),
    .testTarget(name: "CollectivesTests", dependencies: ["Collectives", "CCodecKernels", "TestSupport"]),
    .testTarget(name: "MPIBackendTests", dependencies: ["MPIBackend", "Collectives", "Processes"]),
    .testTarget(name: "LaunchTests", dependencies: ["Launch", "Collectives", "TestSupport"]),
    .testTarget(
        name: "TrainingTests",
        dependencies: ["Training", "Compute", "Datasets", "Collectives", "Processes", "TestSupport"]),
    .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
    .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Training", "Compute", "Collectives"]),
    .testTarget(name: "ReportsTests", dependencies: ["Reports", "Training", "Benchmarks", "Collectives"]),
    .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Reports", "Training", "Collectives"]),
    .testTarget(name: "AlexNetCLITests", dependencies: ["AlexNetCLI", "Datasets", "Processes"]),
    // cluster/: the Kubernetes manifests and the container recipe (parsed, not run).
    .testTarget(name: "ClusterTests", dependencies: [.product(name: "Yams", package: "Yams")]),
]

// MARK: - Fuzz targets (Scripts/fuzz.sh builds them with ALEXNET_FUZZ=1 and -sanitize=fuzzer)

let fuzzing = Context.environment["ALEXNET_FUZZ"] == "1"
let fuzzTargets: [Target] =
    fuzzing
    ? [
        .executableTarget(
            name: "FuzzTargets",
            dependencies: ["Compute", "Datasets", "Collectives", "Training", "Launch", "Reports"])
    ] : []

let package = Package(
    name: "alexnet-dist",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "alexnet-dist", targets: ["AlexNetCLI"])
    ] + (fuzzing ? [.executable(name: "alexnet-dist-fuzz", targets: ["FuzzTargets"])] : []),
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The runtime of the TensorBoard event format's generated code.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // YAML, for the tests of cluster/kubernetes only.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: shims + libraries + executables + tests + fuzzTargets
)
