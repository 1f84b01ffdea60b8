import Collectives
import Compute
import Foundation

/// The guards every step runs, at a cost no benchmark can see: one small exchange of figures per step,
/// which the data-parallel step made anyway for its loss, and a digest of the replicated layers every
/// `replicaCheckEvery` steps.
///
/// ## Note [the non-finite guard]
///
/// A NaN or infinite gradient or momentum always reaches the weight it updates, so the optimiser notes
/// whether any weight it wrote is not finite, in the pass that writes it (`SGD.sawNonFinite`). After the
/// update each rank adds to the step's figures its share of the loss, whether it saw a non-finite weight
/// (and in which parameter first), and whether it was asked to stop; every rank gets every rank's figures,
/// so all stop at the same step when any loss or weight is not finite, before anything is written: the
/// last checkpoint on disk is the last good one and no model is written.
///
/// ## Note [stopping on a signal]
///
/// A signal (SIGTERM, SIGINT, SIGUSR1: Slurm's warning before the time limit) only raises the process's
/// `StopRequest`. The next step's figures carry it to every rank, so all ranks stop after that same step,
/// write a checkpoint there and leave with `ExitStatus.stopped`; resuming from it continues exactly.
///
/// ## Note [replica check]
///
/// The replicated layers (the conv layers under hybrid, all of them under data parallelism) must stay
/// bit-identical on every rank, and each FC shard on the ranks holding it (the same position in every group):
/// the gradient sum is the same everywhere (Note [deterministic reduction]) and so is the update. Every
/// `replicaCheckEvery` steps and before every checkpoint the ranks gather a digest of each such parameter's
/// weights and momentum over the world; a rank that differs from the majority of its holders is named with
/// the first parameter that differs, and every rank ends the run, before writing anything.
extension ParallelTrainer {
    /// The step's figures, exchanged: the mean loss and whether to stop, or the end of the run when a loss
    /// or weight is not finite (every rank alike).
    func agree(afterStep step: Int, lossShare: Double) throws -> TrainingLoop.StepOutcome {
        let badParameter = optimizer.sawNonFinite ? firstNonFiniteParameter() : nil
        let mine = [lossShare, supervision.stop.requested == nil ? 0 : 1, Double(badParameter ?? -1)]
        let figures = try model.channels.world.allGatherDoubles(mine, collective: "step figures")
        let loss = figures.reduce(0) { $0 + $1[0] } / Double(ranks * configuration.training.batchSize)
        let bad = figures.indices.filter { figures[$0][2] >= 0 }
        if !bad.isEmpty || !loss.isFinite {
            let lossText = loss.isNaN ? "nan" : "\(loss)"
            var what = "the loss is \(lossText)"
            if let q = bad.first {
                let name = arena.views[Int(figures[q][2])].name
                let whose = ranks > 1 ? " (first on rank \(q))" : ""
                what = "\(name) holds NaN or infinite values after the update\(whose); the loss is \(lossText)"
            }
            let text =
                "training diverged at step \(step + 1): \(what). Nothing was written at this step: \(lastGood); try a lower --lr"
            try? tensorBoard?.event("non_finite_guard", text, step: step + 1)
            throw RunEnded.diverged(text)
        }
        let stopRequested = figures.contains { $0[1] != 0 }
        return TrainingLoop.StepOutcome(
            loss: loss,
            stop: stopRequested ? (supervision.stop.requested ?? "a stop requested on another rank") : nil)
    }

    /// Where the last good state is, for the divergence message.
    private var lastGood: String {
        if let path = lastCheckpoint ?? resumedFrom { return "the last good checkpoint is \(path)" }
        return "no checkpoint was written before"
    }

    /// The index in `arena.views` of this rank's first parameter whose weights or momentum hold a NaN or an
    /// infinity (the slow path, after `SGD` saw one).
    private func firstNonFiniteParameter() -> Int? {
        arena.views.firstIndex { view in
            !arena.values[view.range].allSatisfy(\.isFinite) || !optimizer.velocity[view.range].allSatisfy(\.isFinite)
        }
    }

    /// Note [replica check] after `step` steps (1-based): the replicated layers across every rank, and each FC
    /// shard across the ranks holding it (one per group); nothing on one rank.
    func checkReplicas(step: Int) throws {
        guard ranks > 1 else { return }
        try compareReplicas(model.synchronisedViews, step: step, holders: [Array(0..<ranks)])
        if plan.groupSize > 1 && plan.groups > 1 {
            // Shard p is held by the rank at position p of every group.
            let holders = (0..<plan.groupSize).map { p in (0..<plan.groups).map { $0 * plan.groupSize + p } }
            try compareReplicas(model.shardViews, step: step, holders: holders)
        }
    }

    /// Compares the digests of `views` (weights and momentum) within each set of run ranks of `holders`,
    /// gathered over the world so that every rank reaches the same verdict; throws naming the rank that
    /// differs from its set's majority.
    private func compareReplicas(_ views: [ParameterView], step: Int, holders: [[Int]]) throws {
        var mine: [UInt8] = []
        for view in views {
            for buffer in [UnsafeBufferPointer(arena.values), UnsafeBufferPointer(optimizer.velocity)] {
                let digest = ParallelTrainer.digest(UnsafeBufferPointer(rebasing: buffer[view.range]))
                withUnsafeBytes(of: digest.littleEndian) { mine += $0 }
            }
        }
        let everyRank = try model.channels.world.allGatherBytes(mine, collective: "replica check")
        for set in holders {
            try compareDigests(set.map { everyRank[$0] }, views: views, step: step, runRank: { set[$0] })
        }
    }

    /// Throws naming the ranks whose digests (`all`, one per holder, holder q being run rank `runRank(q)`)
    /// differ from the majority's, at the first parameter that differs.
    private func compareDigests(_ all: [[UInt8]], views: [ParameterView], step: Int, runRank: (Int) -> Int) throws {
        guard all.contains(where: { $0 != all[0] }) else { return }
        for (i, view) in views.enumerated() {
            for (j, part) in ["weights", "momentum"].enumerated() {
                let at = (2 * i + j) * 8
                let digests = all.map { $0.count >= at + 8 ? Array($0[at..<(at + 8)]) : [] }
                let counts = Dictionary(digests.map { ($0, 1) }, uniquingKeysWith: +)
                // The majority; at a tie, the digest of the lowest rank, so every rank names the same ranks.
                guard counts.count > 1, let most = counts.values.max(),
                    let majority = digests.first(where: { counts[$0] == most })
                else { continue }
                let odd = digests.indices.filter { digests[$0] != majority }.map(runRank)
                let agreeing = digests.indices.filter { digests[$0] == majority }.map(runRank)
                let text =
                    "replicas differ after step \(step): \(view.name) (\(part)) on rank\(odd.count > 1 ? "s" : "") \(odd.map(String.init).joined(separator: ", ")) differs from rank\(agreeing.count > 1 ? "s" : "") \(agreeing.map(String.init).joined(separator: ", ")); nothing was written at this step"
                try? tensorBoard?.event("replica_check", text, step: step)
                throw RunEnded.replicasDiffer(text)
            }
        }
    }

    /// A 64-bit digest of the bits of `values` (four interleaved multiply–xor lanes, a few GB/s).
    static func digest(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (1, 2, 3, 4)
        let prime: UInt64 = 0x9E37_79B9_7F4A_7C15
        var i = 0
        let n = values.count
        while i + 4 <= n {
            lanes.0 = (lanes.0 ^ UInt64(values[i].bitPattern)) &* prime
            lanes.1 = (lanes.1 ^ UInt64(values[i + 1].bitPattern)) &* prime
            lanes.2 = (lanes.2 ^ UInt64(values[i + 2].bitPattern)) &* prime
            lanes.3 = (lanes.3 ^ UInt64(values[i + 3].bitPattern)) &* prime
            i += 4
        }
        while i < n {
            lanes.0 = (lanes.0 ^ UInt64(values[i].bitPattern)) &* prime
            i += 1
        }
        var h = UInt64(n)
        for lane in [lanes.0, lanes.1, lanes.2, lanes.3] { h = (h ^ lane ^ (lane >> 29)) &* prime }
        return h
    }
}
