import Foundation

/// K ranks as threads of one process: the engine of the single-process simulation. Same semantics as
/// the MPI communicator, including Note [deterministic reduction]: every sum is formed in rank order by
/// the rank that owns the segment, so results are bit-identical to the MPI implementation's.
///
/// Each collective is one or two rendezvous: every rank posts its buffers and what it asks for, waits for
/// all posts, checks that they agree (a mismatch is reported on every rank, naming the rank that
/// differs, instead of hanging), reads what it needs from the others, and waits again until everyone has
/// finished reading, so posted buffers stay valid throughout.
public final class InProcessCommunicator: SegmentedCommunicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { group.size }
    private let group: InProcessGroup

    /// A group of one on the calling thread: rank 0 of 1, whose collectives are copies (single-process
    /// training is the one-rank case of the trainer).
    public static func alone() -> InProcessCommunicator {
        InProcessCommunicator(rank: 0, group: InProcessGroup(size: 1))
    }

    init(rank: Int, group: InProcessGroup) {
        self.rank = rank
        self.group = group
    }

    /// Runs `body` on `size` threads, one communicator each, and returns their results in rank order.
    /// After every thread has finished, throws rank 0's error if it failed (as under MPI, where rank 0
    /// reports first), else the error of the rank that failed first (the others' collectives then fail
    /// for its sake): as a `RankError` naming the rank, unless every rank raised it alike (Note [every
    /// rank's errors]).
    public static func run<T>(size: Int, _ body: @escaping @Sendable (InProcessCommunicator) throws -> T) throws -> [T]
    {
        precondition(size >= 1, "in-process group: size must be at least 1, got \(size)")
        let group = InProcessGroup(size: size)
        let results = ResultSlots<T>(count: size)
        let done = DispatchGroup()
        for r in 0..<size {
            done.enter()
            let thread = Thread {
                let result = Result { try body(InProcessCommunicator(rank: r, group: group)) }
                // A rank that has returned can take part in no more collectives: the others are told so
                // instead of waiting for it forever (as MPI aborts a job when a process exits early).
                switch result {
                case .success: group.abandon(rank: r, reason: "finished")
                case .failure(let error):
                    results.failed(r, error)
                    group.abandon(rank: r, reason: "stopped with an error: \(error)")
                }
                results.set(r, result)
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        if let (rank, error) = results.reported {
            if size == 1 || (error as? RunEndingError)?.sharedByEveryRank == true { throw error }
            throw RankError(rank: rank, error)
        }
        return try results.values().map { try $0.get() }
    }

    private var arguments: CollectiveArguments { CollectiveArguments(rank: rank, size: size) }

    // MARK: Collectives

    public func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, collective: String
    ) throws {
        let failure = deferredError {
            try arguments.reduceScatter(input: input.count, counts: counts, output: output.count, collective)
        }
        try group.exchange(
            rank: rank, failure: failure,
            Post(operation: "reduceScatter", collective, signature: counts, pointer: input.baseAddress)
        ) { posts in
            let start = counts[..<rank].reduce(0, +)
            if counts[rank] > 0 {
                sumInRankOrder(posts.map { $0.floats + start }, count: counts[rank], into: output.baseAddress!)
            }
        }
    }

    public func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, collective: String
    ) throws {
        let failure = deferredError {
            try arguments.allGather(input: input.count, counts: counts, output: output.count, collective)
        }
        try group.exchange(
            rank: rank, failure: failure,
            Post(operation: "allGather", collective, signature: counts, pointer: input.baseAddress)
        ) { posts in
            var offset = 0
            for q in 0..<posts.count {
                for i in 0..<counts[q] { output[offset + i] = posts[q].floats[i] }
                offset += counts[q]
            }
        }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        let failure = deferredError {
            try arguments.root(root, "broadcast")
        }
        try group.exchange(
            rank: rank, failure: failure,
            Post("broadcast", signature: [root, buffer.count], pointer: UnsafePointer(buffer.baseAddress))
        ) { posts in
            guard rank != root else { return }
            for i in 0..<buffer.count { buffer[i] = posts[root].floats[i] }
        }
    }

    public func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        let failure = deferredError {
            try arguments.root(root, "reduce")
        }
        // The root's buffer is read by everyone, so its sum goes to a side buffer first.
        let sum = UnsafeMutableBufferPointer<Float>.allocate(capacity: rank == root ? buffer.count : 0)
        defer { sum.deallocate() }
        try group.exchange(
            rank: rank, failure: failure,
            Post("reduce", signature: [root, buffer.count], pointer: UnsafePointer(buffer.baseAddress))
        ) { posts in
            guard rank == root, buffer.count > 0 else { return }
            sumInRankOrder(posts.map(\.floats), count: buffer.count, into: sum.baseAddress!)
        }
        if rank == root { _ = buffer.update(fromContentsOf: sum) }
    }

    public func allToAll(
        _ input: UnsafeBufferPointer<Float>, sendCounts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, receiveCounts: [Int]
    ) throws {
        let failure = deferredError {
            try arguments.allToAll(
                input: input.count, sendCounts: sendCounts, output: output.count, receiveCounts: receiveCounts)
        }
        let post = Post("allToAll", signature: [], pointer: input.baseAddress, extra: sendCounts)
        try group.exchange(rank: rank, failure: failure, post) { posts in
            var offset = 0
            for q in 0..<posts.count {
                let sent = posts[q].extra[rank]
                guard sent == receiveCounts[q] else {
                    throw CollectiveError(
                        rank: rank, collective: "allToAll",
                        problem: "rank \(q) sends \(sent) elements, receiveCounts[\(q)] is \(receiveCounts[q])")
                }
                let start = posts[q].extra[..<rank].reduce(0, +)
                for i in 0..<sent { output[offset + i] = posts[q].floats[start + i] }
                offset += sent
            }
        }
    }

    public func exchangeBytes(_ messages: [[UInt8]], collective: String) throws -> [[UInt8]] {
        let failure = deferredError { try arguments.exchangeBytes(messages: messages.count, collective) }
        var received: [[UInt8]] = []
        try group.exchange(
            rank: rank, failure: failure,
            Post(operation: "exchangeBytes", collective, signature: [], pointer: nil, messages: messages)
        ) { posts in
            received = posts.map { $0.messages[rank] }
        }
        return received
    }

    public func allGatherBytes(_ message: [UInt8], collective: String) throws -> [[UInt8]] {
        var gathered: [[UInt8]] = []
        try group.exchange(
            rank: rank, Post(operation: "allGatherBytes", collective, signature: [], pointer: nil, messages: [message])
        ) { posts in
            gathered = posts.map { $0.messages[0] }
        }
        return gathered
    }

    public func decline(_ collective: String, because error: Error) throws -> Never {
        try group.exchange(rank: rank, failure: error, Post(collective, signature: [], pointer: nil)) { _ in }
        throw error  // exchange rethrows `error`; not reached
    }

    public func barrier() throws {
        try group.exchange(rank: rank, Post("barrier", signature: [], pointer: nil)) { _ in }
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        var result: InProcessCommunicator?
        try group.exchange(rank: rank, Post("split", signature: [], pointer: nil, extra: [color, key])) { posts in
            let members = (0..<posts.count).filter { posts[$0].extra[0] == color }
                .sorted { (posts[$0].extra[1], $0) < (posts[$1].extra[1], $1) }
            let child = group.child(tag: "split:\(group.generationTag):\(color)", members: members)
            result = InProcessCommunicator(rank: members.firstIndex(of: rank)!, group: child)
        }
        return result!
    }

}

/// What one rank contributes to a rendezvous.
struct Post: @unchecked Sendable {
    /// The operation ("allGather", "exchangeBytes", …): collectives of different kinds never match, even
    /// under one name.
    let operation: String
    let collective: String
    /// Values every rank must agree on (sizes, roots).
    let signature: [Int]
    let pointer: UnsafePointer<Float>?
    /// Rank-specific values (send counts, split colour and key).
    let extra: [Int]
    /// Byte messages (one per destination, or one for all).
    let messages: [[UInt8]]
    /// Why this rank cannot take part (its arguments failed their checks, or it declined).
    let failure: String?

    init(
        operation: String? = nil, _ collective: String, signature: [Int], pointer: UnsafePointer<Float>?,
        extra: [Int] = [], messages: [[UInt8]] = [], failure: String? = nil
    ) {
        self.operation = operation ?? collective
        self.collective = collective
        self.signature = signature
        self.pointer = pointer
        self.extra = extra
        self.messages = messages
        self.failure = failure
    }

    var floats: UnsafePointer<Float> { pointer! }

    /// What the rank stated, for the agreement (Note [one agreement per collective]).
    var statement: CollectiveStatement {
        CollectiveStatement(operation: operation, collective: collective, values: signature, failure: failure)
    }
}

/// The rendezvous shared by the ranks of one in-process group.
final class InProcessGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var posts: [Post?]
    private var snapshot: [Post] = []
    private var arrived = 0
    private var generation = 0
    /// Groups split from this one, with their members' ranks here (in the child's rank order).
    private var children: [String: (group: InProcessGroup, members: [Int])] = [:]
    /// The first member that left the group for good, and why.
    private var departed: (rank: Int, reason: String)?

    init(size: Int) {
        self.size = size
        posts = Array(repeating: nil, count: size)
    }

    /// Identifies the current rendezvous (used to name child groups).
    var generationTag: Int {
        condition.lock()
        defer { condition.unlock() }
        return generation
    }

    /// The child group named `tag` of `members` (ranks of this group, in the child's order), created by
    /// whichever member asks first.
    func child(tag: String, members: [Int]) -> InProcessGroup {
        condition.lock()
        defer { condition.unlock() }
        if let existing = children[tag] { return existing.group }
        let child = InProcessGroup(size: members.count)
        if let departed, let inChild = members.firstIndex(of: departed.rank) {
            child.departed = (inChild, departed.reason)
        }
        children[tag] = (child, members)
        return child
    }

    /// Marks `rank` as gone for good, in this group and every group split from it: collectives waiting for it,
    /// and later ones, fail instead of hanging.
    func abandon(rank: Int, reason: String) {
        condition.lock()
        if departed == nil { departed = (rank, reason) }
        condition.broadcast()
        let children = Array(self.children.values)
        condition.unlock()
        // Only the groups the rank belongs to lose it (under its rank there): the others carry on, as the
        // groups of a 2-D layout finish their last collectives apart.
        for child in children {
            if let inChild = child.members.firstIndex(of: rank) { child.group.abandon(rank: inChild, reason: reason) }
        }
    }

    /// Posts, waits for every rank, checks agreement, runs `body` on all posts, and waits until every
    /// rank has run its body. Errors (a disagreement, or thrown by `body`) are rethrown only after the
    /// second wait, so no rank is left waiting.
    /// - Parameter failure: this rank's own argument error, if any. The rank still takes part, posting a
    ///   collective the others cannot match (so they fail too), and then throws it.
    func exchange(rank: Int, failure localFailure: Error? = nil, _ post: Post, body: ([Post]) throws -> Void) throws {
        let mine =
            localFailure.map {
                Post(
                    operation: post.operation, post.collective, signature: [], pointer: nil,
                    failure: CollectiveStatement.reason($0))
            } ?? post
        let all = try rendezvous(rank: rank, post: mine)
        var failure = localFailure
        if failure == nil {
            failure = CollectiveStatement.disagreement(all.map(\.statement), rank: rank, collective: post.collective)
        }
        if failure == nil {
            do { try body(all) } catch { failure = error }
        }
        _ = try rendezvous(rank: rank, post: Post("leave", signature: [], pointer: nil))
        if let failure { throw failure }
    }

    private func rendezvous(rank: Int, post: Post) throws -> [Post] {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        if let departed, departed.rank != rank {
            throw CollectiveError(
                rank: rank, collective: post.collective, problem: "rank \(departed.rank) has \(departed.reason)")
        }
        posts[rank] = post
        arrived += 1
        if arrived == size {
            snapshot = posts.map { $0! }
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine && departed == nil { condition.wait() }
            if generation == mine, let departed {
                throw CollectiveError(
                    rank: rank, collective: post.collective, problem: "rank \(departed.rank) has \(departed.reason)")
            }
        }
        return snapshot
    }
}

/// Per-rank result slots written by the rank threads.
final class ResultSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, Error>?]

    private var firstFailure: (rank: Int, error: Error)?
    private var rankZeroFailure: Error?

    /// The failure to report: rank 0's, else the first in time.
    var reported: (rank: Int, error: Error)? {
        lock.lock()
        defer { lock.unlock() }
        return rankZeroFailure.map { (0, $0) } ?? firstFailure
    }

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func failed(_ rank: Int, _ error: Error) {
        lock.lock()
        if firstFailure == nil { firstFailure = (rank, error) }
        if rank == 0 { rankZeroFailure = error }
        lock.unlock()
    }

    func set(_ index: Int, _ result: Result<T, Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func values() -> [Result<T, Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
