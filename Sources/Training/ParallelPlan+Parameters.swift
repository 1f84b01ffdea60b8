import Collectives
import Compute

/// Moving parameters (or anything laid out like them, such as momentum) between the whole model's arena
/// layout (`model.parameterLayout`: a rank's when every layer is replicated, and the model file's) and one rank's
/// (`parameterLayout`, FC rows sharded).
extension ParallelPlan {
    /// The part of one tensor that this rank holds: the whole tensor for replicated layers; rows of FC weights
    /// and biases. `width` is the elements per row (1 for biases).
    private func heldRows(of view: ParameterView) -> (rows: Range<Int>, width: Int)? {
        guard let shard = shards.first(where: { $0.layer == view.layer }), groupSize > 1 else { return nil }
        return (shard.rows, view.shape.dropFirst().reduce(1, *))
    }

    /// Copies this rank's part of `whole` (laid out like `full`, the model's layout) into `part` (laid out like
    /// `mine`, this plan's layout).
    public func extract(
        _ whole: UnsafeBufferPointer<Float>, layout full: ParameterArena,
        into part: UnsafeMutableBufferPointer<Float>, layout mine: ParameterArena
    ) {
        precondition(whole.count == full.count && part.count == mine.count, "extract: buffers do not fit their layouts")
        for view in mine.views {
            let source = full.view(view.name)
            let start = source.offset + (heldRows(of: source).map { $0.rows.lowerBound * $0.width } ?? 0)
            precondition(
                start + view.count <= source.range.upperBound,
                "extract: \(view.name) \(view.shape) does not fit in \(source.shape)")
            _ = UnsafeMutableBufferPointer(rebasing: part[view.range])
                .update(fromContentsOf: whole[start..<(start + view.count)])
        }
    }

    /// Assembles the whole model's `whole` (laid out like `full`) from the group's `part`s (laid out like
    /// `mine`): replicated tensors are copied from this rank, FC rows all-gathered in position order over
    /// `communicator`, the group's. A collective: every rank of the group calls it.
    public func assemble(
        _ part: UnsafeBufferPointer<Float>, layout mine: ParameterArena,
        into whole: UnsafeMutableBufferPointer<Float>, layout full: ParameterArena, communicator: Communicator
    ) throws {
        precondition(
            whole.count == full.count && part.count == mine.count, "assemble: buffers do not fit their layouts")
        precondition(
            groupSize == 1 || (communicator.size == groupSize && communicator.rank == position),
            "assemble: the communicator is not this rank's group")
        for view in mine.views {
            let target = UnsafeMutableBufferPointer(rebasing: whole[full.view(view.name).range])
            let source = UnsafeBufferPointer(rebasing: part[view.range])
            if let held = heldRows(of: full.view(view.name)) {
                let outputs = fullyConnected.first { $0.name == view.layer }!.outputs
                let counts = (0..<groupSize).map {
                    ParallelPlan.rows(outputs, ranks: groupSize, rank: $0).count * held.width
                }
                try communicator.allGather(source, counts: counts, into: target)
            } else {
                _ = target.update(fromContentsOf: source)
            }
        }
    }

}
