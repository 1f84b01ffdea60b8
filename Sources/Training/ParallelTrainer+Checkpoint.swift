import Collectives
import Compute

/// Checkpoints across ranks: a checkpoint always holds the whole model and momentum, laid out as one
/// process's, whatever number of ranks wrote it; resuming on K ranks keeps each rank's part (the FC layers
/// are re-sharded), so a run can continue on another number of ranks. Error-feedback residuals (`topk`)
/// are kept per rank.
extension ParallelTrainer {
    /// Sets the rank's weights, momentum and residuals from a checkpoint written by any number of ranks.
    func restore(_ checkpoint: Checkpoint.Loaded) throws {
        let whole = checkpoint.model.arena, plan = plan, arena = arena, optimizer = optimizer
        plan.extract(UnsafeBufferPointer(whole.values), layout: whole, into: arena.values, layout: arena)
        checkpoint.velocity.withUnsafeBufferPointer {
            plan.extract($0, layout: whole, into: optimizer.velocity, layout: arena)
        }
        guard checkpoint.residualRanks > 0 else { return }
        if plan.codec.hasErrorFeedback {
            try restoreResiduals(checkpoint)
        } else {
            progress(
                "the checkpoint's top-k residuals are dropped: codec \(plan.codec) has no error feedback")
        }
    }

    /// Gathers the whole model and momentum (a collective) and writes them from rank 0.
    func saveCheckpoint(_ path: String, position: TrainingPosition) throws {
        let c = configuration.training
        let whole = try model.gatherModel()
        var velocity = [Float](repeating: 0, count: whole.count)
        try velocity.withUnsafeMutableBufferPointer {
            try plan.assemble(
                UnsafeBufferPointer(optimizer.velocity), layout: arena, into: $0, layout: whole,
                communicator: model.channels.classifier)
        }
        let residuals = plan.codec.hasErrorFeedback ? try gatherResiduals() : []
        defer { for buffer in residuals { buffer.deallocate() } }
        guard rank == 0 else { return }
        // Rank q's residuals, packed in the order of its views (replicated, then its FC shards).
        let tensors = residuals.enumerated().flatMap { q, buffer in
            var offset = 0
            return Self.residualViews(of: plan.of(rank: q)).map { view in
                defer { offset += view.count }
                return SafeTensors.Entry(
                    name: Checkpoint.residualName(rank: q, parameter: view.name), shape: view.shape,
                    values: UnsafeBufferPointer(rebasing: buffer[offset..<(offset + view.count)]))
            }
        }
        try velocity.withUnsafeBufferPointer {
            try Checkpoint.save(
                path, model: c.model, groups: c.groups, arena: whole, velocity: $0,
                normalization: loop.samplers.normalization, classNames: c.classNames, position: position, seed: c.seed,
                extra: rankMetadata, residuals: residuals.isEmpty ? nil : (ranks, tensors))
        }
    }

    /// The views whose gradients a rank of `plan` allreduces, so whose error-feedback residuals it keeps: the
    /// replicated layers, then its FC shards (when they are summed across groups).
    static func residualViews(of plan: ParallelPlan) -> [ParameterView] { plan.replicatedViews + plan.shardViews }

    /// Every rank's error-feedback residuals, packed in the order of its `residualViews`, on rank 0 (one buffer
    /// per rank, to deallocate); the other ranks get none. A collective.
    private func gatherResiduals() throws -> [UnsafeMutableBufferPointer<Float>] {
        let arenaResiduals = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { arenaResiduals.deallocate() }
        arenaResiduals.initialize(repeating: 0)
        model.buckets.residuals(into: arenaResiduals)
        model.shardBuckets?.residuals(into: arenaResiduals)
        let views = Self.residualViews(of: plan)
        var mine = [Float]()
        mine.reserveCapacity(views.reduce(0) { $0 + $1.count })
        for view in views { mine += arenaResiduals[view.range] }
        // Ranks at different positions hold shards of different sizes.
        let counts = (0..<ranks).map { q in Self.residualViews(of: plan.of(rank: q)).reduce(0) { $0 + $1.count } }
        let gathered = (0..<(rank == 0 ? ranks : 0)).map { q in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: counts[q])
            buffer.initialize(repeating: 0)
            return buffer
        }
        do {
            // Rank q's residuals to rank 0 alone: an all-to-all in which only q → 0 is not empty.
            try mine.withUnsafeBufferPointer { mine in
                for q in 0..<ranks {
                    try model.channels.world.allToAll(
                        rank == q ? mine : UnsafeBufferPointer(start: nil, count: 0),
                        sendCounts: (0..<ranks).map { rank == q && $0 == 0 ? counts[q] : 0 },
                        into: rank == 0 ? gathered[q] : UnsafeMutableBufferPointer(start: nil, count: 0),
                        receiveCounts: (0..<ranks).map { rank == 0 && $0 == q ? counts[q] : 0 })
                }
            }
        } catch {
            for buffer in gathered { buffer.deallocate() }
            throw error
        }
        return gathered
    }

    /// Sets this rank's error-feedback residuals from a checkpoint. Written under the same layout (K and G):
    /// each rank its own, exactly. Otherwise the gradient mass not yet sent is kept whole: every element's
    /// residuals, summed over the ranks that wrote them (in rank order), go to one rank that allreduces it
    /// now, rank 0 for the replicated layers and the rank of group 0 holding the row for FC shards; the
    /// others start from zero. Parameters the checkpoint holds no residual for (a hybrid checkpoint's FC
    /// layers resumed with `--parallel data`) start from zero; residuals of parameters this run does not
    /// allreduce (data → one group: the FC layers) are dropped, and said so.
    private func restoreResiduals(_ checkpoint: Checkpoint.Loaded) throws {
        let saved = checkpoint.residualRanks
        let sameLayout = saved == ranks && checkpoint.residualGroupSize == plan.groupSize
        let whole = checkpoint.model.arena
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        for view in Self.residualViews(of: plan) where checkpoint.residualParameters.contains(view.name) {
            let isShard = plan.shardViews.contains { $0.name == view.name }
            let sources = sameLayout ? [rank] : (isShard ? plan.group == 0 : rank == 0) ? Array(0..<saved) : []
            // The rows of the whole tensor this rank's view holds.
            let source = whole.view(view.name)
            let width = source.shape.dropFirst().reduce(1, *)
            let mine = isShard ? plan.shards.first { $0.layer == view.layer }!.rows : 0..<source.shape[0]
            for q in sources {
                let rows = checkpoint.residualRows(rank: q, view: source).clamped(to: mine)
                guard !rows.isEmpty else { continue }
                let part = try checkpoint.readResidual(rank: q, view: source)
                let from = (rows.lowerBound - part.rows.lowerBound) * width
                let to = view.offset + (rows.lowerBound - mine.lowerBound) * width
                for j in 0..<(rows.count * width) {
                    // Under the same layout a copy (bit for bit); otherwise summed in rank order.
                    buffer[to + j] = sameLayout ? part.values[from + j] : buffer[to + j] + part.values[from + j]
                }
            }
        }
        model.buckets.restoreResiduals(from: UnsafeBufferPointer(buffer))
        model.shardBuckets?.restoreResiduals(from: UnsafeBufferPointer(buffer))
        if !sameLayout {
            progress(
                "the checkpoint's top-k residuals of \(saved) ranks are summed onto one rank of \(ranks) per element")
        }
        let dropped = checkpoint.residualParameters.subtracting(Self.residualViews(of: plan).map(\.name))
        if !dropped.isEmpty {
            progress(
                "top-k residuals of \(dropped.sorted().joined(separator: ", ")) are dropped (not allreduced in this run)"
            )
        }
    }
}
