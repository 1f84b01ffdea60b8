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
        let range = ParameterArena.range(of: model.synchronisedViews)
        let tensors = residuals.enumerated().flatMap { q, buffer in
            model.synchronisedViews.map { view in
                SafeTensors.Entry(
                    name: Checkpoint.residualName(rank: q, parameter: view.name), shape: view.shape,
                    values: UnsafeBufferPointer(
                        rebasing: buffer[(view.offset - range.lowerBound)...].prefix(view.count)))
            }
        }
        try velocity.withUnsafeBufferPointer {
            try Checkpoint.save(
                path, model: c.model, groups: c.groups, arena: whole, velocity: $0,
                normalization: loop.samplers.normalization, classNames: c.classNames, position: position, seed: c.seed,
                extra: rankMetadata, residuals: residuals.isEmpty ? nil : (ranks, tensors))
        }
    }

    /// Every rank's error-feedback residuals over the synchronised parameters' arena range, on rank 0 (one
    /// buffer per rank, to deallocate); the other ranks get none. A collective.
    private func gatherResiduals() throws -> [UnsafeMutableBufferPointer<Float>] {
        let range = ParameterArena.range(of: model.synchronisedViews), n = range.count
        let mine = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { mine.deallocate() }
        mine.initialize(repeating: 0)
        model.buckets.residuals(into: mine)
        let gathered = (0..<(rank == 0 ? ranks : 0)).map { _ in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            buffer.initialize(repeating: 0)
            return buffer
        }
        do {
            // Rank q's residuals to rank 0 alone: an all-to-all in which only q → 0 is not empty.
            for q in 0..<ranks {
                try model.channels.world.allToAll(
                    rank == q ? UnsafeBufferPointer(rebasing: mine[range]) : UnsafeBufferPointer(start: nil, count: 0),
                    sendCounts: (0..<ranks).map { rank == q && $0 == 0 ? n : 0 },
                    into: rank == 0 ? gathered[q] : UnsafeMutableBufferPointer(start: nil, count: 0),
                    receiveCounts: (0..<ranks).map { rank == 0 && $0 == q ? n : 0 })
            }
        } catch {
            for buffer in gathered { buffer.deallocate() }
            throw error
        }
        return gathered
    }

    /// Sets this rank's error-feedback residuals from a checkpoint: each rank its own when the checkpoint
    /// was written by as many ranks; otherwise rank 0 carries their sum (in rank order) and the others none,
    /// so the gradient mass not yet sent is kept whole. Parameters the checkpoint holds no residual for
    /// (a hybrid checkpoint's FC layers resumed with `--parallel data`) start from zero; residuals of
    /// parameters this run does not allreduce (data → hybrid: the FC layers) are dropped, and said so.
    private func restoreResiduals(_ checkpoint: Checkpoint.Loaded) throws {
        let saved = checkpoint.residualRanks
        let sources = saved == ranks ? [rank] : rank == 0 ? Array(0..<saved) : []
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        var part = [Float]()
        for view in model.synchronisedViews where checkpoint.residualParameters.contains(view.name) {
            let target = UnsafeMutableBufferPointer(rebasing: buffer[view.range])
            for (i, q) in sources.enumerated() {
                part = [Float](repeating: 0, count: view.count)
                try part.withUnsafeMutableBufferPointer { try checkpoint.readResidual(rank: q, view: view, into: $0) }
                for j in 0..<view.count { target[j] = i == 0 ? part[j] : target[j] + part[j] }
            }
        }
        model.buckets.restoreResiduals(from: UnsafeBufferPointer(buffer))
        if saved != ranks {
            progress("the checkpoint's top-k residuals of \(saved) ranks are summed onto rank 0 of \(ranks)")
        }
        let dropped = checkpoint.residualParameters.subtracting(model.synchronisedViews.map(\.name))
        if !dropped.isEmpty {
            progress(
                "top-k residuals of \(dropped.sorted().joined(separator: ", ")) are dropped (not allreduced in this run)"
            )
        }
    }
}
