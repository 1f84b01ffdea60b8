import CMPI
import CPMIx
import Collectives
import Foundation

/// The `Communicator` over OpenMPI. Sums follow Note [deterministic reduction]: each rank receives every
/// rank's copy of its own segment (`MPI_Alltoallv`), adds them in rank order, and the reduced segments are
/// gathered (a ring of `MPI_Sendrecv` for large buffers), so results are bit-identical to
/// `InProcessCommunicator`'s. Before each collective the ranks agree once on what they are about to do
/// (Note [one agreement per collective]: one `MPI_Allgather` of an 8-byte hash, which byte collectives
/// also use to share their sizes), so a mismatch is an error on every rank, naming the rank that differs
/// and what it said, rather than a hang or wrong data.
public final class MPICommunicator: SegmentedCommunicator {
    public let rank: Int
    public let size: Int
    let comm: MPI_Comm

    /// Communicators made by `split` are freed with the object; the world communicator is not.
    private let ownsCommunicator: Bool

    private init(comm: MPI_Comm, owns: Bool = false) throws {
        self.comm = comm
        ownsCommunicator = owns
        MPI_Comm_set_errhandler(comm, cmpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        rank = Int(r)
        size = Int(s)
    }

    /// Initialises MPI (asking for `MPI_THREAD_MULTIPLE`) once per process and returns `MPI_COMM_WORLD`.
    public static func world() throws -> MPICommunicator {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let status = MPI_Init_thread(nil, nil, cmpi_thread_multiple(), &provided)
            guard status == cmpi_success() else {
                throw CollectiveError(rank: -1, collective: "MPI_Init_thread", problem: errorText(status))
            }
            try leaveInitTogether()
        }
        return try MPICommunicator(comm: cmpi_comm_world())
    }

    /// Note [leaving MPI_Init together]: Open MPI 4.1 ends `MPI_Init` with a PMIx fence that collects no
    /// data, its "barrier"; its PML ob1 registers its message callbacks before it. Slurm's PMIx plugin
    /// (Debian 12: Slurm 22.05, PMIx 4.2) releases such a fence at once, without waiting for the other
    /// processes (measured: ranks 1–3 left it 5 s before a sleeping rank 0 entered it; under `mpirun` they
    /// waited). So under `srun --mpi=pmix` a rank can leave `MPI_Init` and send its first message to a peer
    /// still inside it, whose TCP BTL then calls through the callback ob1 has not registered yet: SIGSEGV
    /// in `MPI_Init_thread` (seen under load; open-mpi/ompi issue #12495 and PR #13559 describe the same race
    /// in 5.0). A fence that collects data is a real barrier under Slurm too, so every rank passes one right
    /// after `MPI_Init_thread` returns: no rank sends until every rank has left `MPI_Init`. A process
    /// without a PMIx server (a singleton) skips it.
    private static func leaveInitTogether() throws {
        let status = cpmix_fence_job()
        guard status <= 0 else { return }
        guard status == 0 else {
            throw CollectiveError(
                rank: -1, collective: "PMIx_Fence after MPI_Init",
                problem: String(cString: cpmix_error_string(status)))
        }
    }

    /// Whether MPI lets threads other than the main one make calls (`MPI_THREAD_SERIALIZED` or better), as
    /// the compressed allreduce's transfer thread does. Open MPI as packaged by Debian gives
    /// `MPI_THREAD_MULTIPLE`.
    public var allowsCallsFromOtherThreads: Bool {
        var provided: Int32 = 0
        MPI_Query_thread(&provided)
        return provided >= cmpi_thread_serialized()
    }

    /// Whether threads may make MPI calls concurrently (`MPI_THREAD_MULTIPLE`), as a trainer that runs the
    /// gradient allreduce and the feature exchange on transfer threads, each on its own communicator, needs.
    public var allowsConcurrentCalls: Bool {
        var provided: Int32 = 0
        MPI_Query_thread(&provided)
        return provided >= cmpi_thread_multiple()
    }

    deinit {
        received.deallocate()
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if ownsCommunicator && finalized == 0 {
            var handle: MPI_Comm? = comm
            MPI_Comm_free(&handle)
        }
    }

    /// Finalises MPI; call once, after the last collective.
    public static func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    /// Ends every process of the job with `status` (`MPI_Abort` on the world: Open MPI's runtime kills the
    /// other ranks, stopped ones included). Callable from any thread, inside or outside a collective.
    public static func abort(status: Int32) -> Never {
        MPI_Abort(cmpi_comm_world(), status)
        exit(status)
    }

    var arguments: CollectiveArguments { CollectiveArguments(rank: rank, size: size) }

    // MARK: Collectives

    /// Elements per step of `allReduce` (`MPIAllReduceChunking.elements`, 64 MB of floats, Horovod's fusion
    /// buffer): the receive buffer is kept from call to call (a fresh 244 MB buffer per call cost more in page
    /// faults than the transfer), and every chunk costs an exchange and K − 1 ring steps, which a busy
    /// machine pays in scheduling delays (owt's data baseline on 4 hosts at 1 Gbit/s: 16.8 images/s with
    /// chunks of 2²¹ floats, 18.1 with 2²³, 18.7 with 2²⁵).
    public var allReduceChunkElements = MPIAllReduceChunking.elements
    private var received = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    /// The `count × size` floats `allReduce` receives into, kept between calls.
    private func receiveBuffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if received.count < count {
            received.deallocate()
            received = .allocate(capacity: count)
        }
        return received
    }

    /// Sums `buffer` in place, chunk by chunk: each rank receives every rank's copy of its segment of the
    /// chunk (`MPI_Alltoallv`), adds them in rank order into its own segment of `buffer`, and the reduced
    /// segments are gathered in place (`gatherInPlace`). Element by element the same
    /// sums as every other implementation (Note [deterministic reduction]).
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, collective: String) throws {
        try agree("allReduce", collective, [buffer.count])
        var start = 0
        while start < buffer.count {
            let chunk = UnsafeMutableBufferPointer(
                rebasing: buffer[start..<min(buffer.count, start + allReduceChunkElements)])
            try allReduceChunk(chunk, collective)
            start += chunk.count
        }
    }

    private func allReduceChunk(_ chunk: UnsafeMutableBufferPointer<Float>, _ collective: String) throws {
        let counts = segmentCounts(chunk.count, parts: size)
        let offsets = prefixSums(counts)
        try sumSegments(
            UnsafePointer(chunk.baseAddress), counts: counts, into: chunk.baseAddress.map { $0 + offsets[rank] },
            receiving: receiveBuffer(max(counts[rank] * size, 1)), collective)
        try gatherInPlace(chunk.baseAddress, counts: counts, offsets: offsets, collective)
    }

    public func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, collective: String
    ) throws {
        let failure = deferredError {
            try arguments.reduceScatter(input: input.count, counts: counts, output: output.count, collective)
        }
        try agree("reduceScatter", collective, counts, failure: failure)
        let received = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(counts[rank] * size, 1))
        defer { received.deallocate() }
        try sumSegments(input.baseAddress, counts: counts, into: output.baseAddress, receiving: received, collective)
    }

    /// The reduce-scatter itself: every rank's copy of this rank's segment (`counts[rank]` elements) arrives
    /// in `received` (`MPI_Alltoallv`) and their rank-order sum goes to `output`.
    private func sumSegments(
        _ input: UnsafePointer<Float>?, counts: [Int], into output: UnsafeMutablePointer<Float>?,
        receiving received: UnsafeMutableBufferPointer<Float>, _ collective: String
    ) throws {
        let mine = counts[rank]
        try call(
            collective,
            MPI_Alltoallv(
                input, counts.map { Int32($0) }, prefixSums(counts).map { Int32($0) }, cmpi_float(),
                received.baseAddress, [Int32](repeating: Int32(mine), count: size), (0..<size).map { Int32($0 * mine) },
                cmpi_float(), comm))
        if mine > 0 {
            sumInRankOrder(
                (0..<size).map { UnsafePointer(received.baseAddress! + $0 * mine) }, count: mine, into: output!)
        }
    }

    public func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, collective: String
    ) throws {
        let failure = deferredError {
            try arguments.allGather(input: input.count, counts: counts, output: output.count, collective)
        }
        try agree("allGather", collective, counts, failure: failure)
        let offsets = prefixSums(counts)
        if counts[rank] > 0 {
            (output.baseAddress! + offsets[rank]).update(from: input.baseAddress!, count: counts[rank])
        }
        try gatherInPlace(output.baseAddress, counts: counts, offsets: offsets, collective)
    }

    /// Below this many bytes in all, `gatherInPlace` leaves the algorithm to `MPI_Allgatherv` (fewer
    /// latencies than a ring's K − 1 steps); above it, the ring, if the segments are balanced.
    public var ringGatherBytes = 1 << 20

    /// Rank r's segment (`counts[r]` elements at `offsets[r]` of `buffer`, already in place) is copied into
    /// every other rank's `buffer`. Large gathers run as a ring of `MPI_Sendrecv` steps (step s: send
    /// segment r − s to rank r + 1, receive segment r − s − 1 from rank r − 1): every link carries each
    /// segment once and all links are busy at once, the bandwidth-optimal schedule. Over TCP Open MPI's
    /// default choice for `MPI_Allgatherv` took twice as long (840 against 422 ms for 16M floats on 4 hosts
    /// at 1 Gbit/s, where the ring's bound is 421 ms; docs/NOTES.md).
    private func gatherInPlace(
        _ buffer: UnsafeMutablePointer<Float>?, counts: [Int], offsets: [Int], _ collective: String
    ) throws {
        let total = counts.reduce(0, +)
        guard size > 1, total > 0 else { return }
        // A ring forwards each segment K − 1 times in sequence: it pays only when every rank contributes a
        // comparable share (a gather from one rank, as scheme (b)'s rounds are, would cross K − 1 links in turn).
        let balanced = counts.min()! * 2 >= counts.max()!
        if total * MemoryLayout<Float>.size < ringGatherBytes || !balanced {
            try call(
                collective,
                MPI_Allgatherv(
                    cmpi_in_place(), 0, cmpi_float(), buffer, counts.map { Int32($0) },
                    offsets.map { Int32($0) }, cmpi_float(), comm))
            return
        }
        let next = Int32((rank + 1) % size), previous = Int32((rank + size - 1) % size)
        for step in 0..<(size - 1) {
            let sent = (rank - step + size) % size, received = (rank - step - 1 + size) % size
            try call(
                collective,
                MPI_Sendrecv(
                    buffer! + offsets[sent], Int32(counts[sent]), cmpi_float(), next, ringTag,
                    buffer! + offsets[received], Int32(counts[received]), cmpi_float(), previous, ringTag,
                    comm, cmpi_status_ignore()))
        }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        let failure = deferredError {
            try arguments.root(root, "broadcast")
        }
        try agree("broadcast", "broadcast", [root, buffer.count], failure: failure)
        try call("broadcast", MPI_Bcast(buffer.baseAddress, Int32(buffer.count), cmpi_float(), Int32(root), comm))
    }

    public func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        let failure = deferredError {
            try arguments.root(root, "reduce")
        }
        try agree("reduce", "reduce", [root, buffer.count], failure: failure)
        let n = buffer.count
        let gathered = UnsafeMutableBufferPointer<Float>.allocate(capacity: rank == root ? max(n * size, 1) : 1)
        defer { gathered.deallocate() }
        try call(
            "reduce",
            MPI_Gather(
                buffer.baseAddress, Int32(n), cmpi_float(), gathered.baseAddress, Int32(n),
                cmpi_float(), Int32(root), comm))
        guard rank == root, n > 0 else { return }
        sumInRankOrder(
            (0..<size).map { UnsafePointer(gathered.baseAddress! + $0 * n) }, count: n, into: buffer.baseAddress!)
    }

    public func allToAll(
        _ input: UnsafeBufferPointer<Float>, sendCounts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, receiveCounts: [Int]
    ) throws {
        let failure = deferredError {
            try arguments.allToAll(
                input: input.count, sendCounts: sendCounts, output: output.count, receiveCounts: receiveCounts)
        }
        try agree("allToAll", "allToAll", [], failure: failure)
        // What each rank sends to each other must match what the receiver expects: exchange the counts first.
        var announced = [Int32](repeating: 0, count: size)
        try call("allToAll", MPI_Alltoall(sendCounts.map { Int32($0) }, 1, cmpi_int(), &announced, 1, cmpi_int(), comm))
        let mismatch = (0..<size).first { Int(announced[$0]) != receiveCounts[$0] }
        try agreeNoFailure("allToAll", failed: mismatch != nil)
        if let q = mismatch {
            throw CollectiveError(
                rank: rank, collective: "allToAll",
                problem: "rank \(q) sends \(announced[q]) elements, receiveCounts[\(q)] is \(receiveCounts[q])")
        }
        try call(
            "allToAll",
            MPI_Alltoallv(
                input.baseAddress, sendCounts.map { Int32($0) }, prefixSums(sendCounts).map { Int32($0) },
                cmpi_float(), output.baseAddress, receiveCounts.map { Int32($0) },
                prefixSums(receiveCounts).map { Int32($0) }, cmpi_float(), comm))
    }

    /// The plain `MPI_Allreduce` (sum, in place): the baseline the benchmarks compare against. Its
    /// summation order is MPI's choice, so unlike `allReduce` it is not bit-identical to the in-process
    /// communicator.
    public func allReduceBaseline(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try agree("MPI_Allreduce", "MPI_Allreduce", [buffer.count])
        try call(
            "MPI_Allreduce",
            MPI_Allreduce(
                cmpi_in_place(), buffer.baseAddress, Int32(buffer.count), cmpi_float(), cmpi_sum(), comm))
    }

    public func barrier() throws {
        try agree("barrier", "barrier", [])
        try call("barrier", MPI_Barrier(comm))
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        try agree("split", "split", [])
        var child: MPI_Comm? = nil
        try call("split", MPI_Comm_split(comm, Int32(color), Int32(key), &child))
        guard let child else {
            throw CollectiveError(rank: rank, collective: "split", problem: "MPI returned no communicator")
        }
        return try MPICommunicator(comm: child, owns: true)
    }

    /// All ranks learn whether any rank failed a local check, so they can all stop together.
    private func agreeNoFailure(_ collective: String, failed: Bool) throws {
        var mine: Int32 = failed ? 1 : 0, any: Int32 = 0
        try call(collective, MPI_Allreduce(&mine, &any, 1, cmpi_int(), cmpi_max(), comm))
        if any != 0 && !failed {
            throw CollectiveError(rank: rank, collective: collective, problem: "another rank's counts do not match")
        }
    }

    func call(_ collective: String, _ status: Int32) throws {
        guard status == cmpi_success() else {
            throw CollectiveError(rank: rank, collective: collective, problem: MPICommunicator.errorText(status))
        }
    }

    private static func errorText(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(status, &text, &length)
        return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The tag of the ring's point-to-point messages (collectives have their own matching space).
private let ringTag: Int32 = 0x616c

func prefixSums(_ counts: [Int]) -> [Int] {
    var sums: [Int] = []
    var total = 0
    for c in counts {
        sums.append(total)
        total += c
    }
    return sums
}
