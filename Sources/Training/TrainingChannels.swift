import Collectives

/// The communicators of one rank's run (Note [one resolved plan]), each metered (Note [bytes sent]) and
/// recorded on the rank's timeline. Split once from the run's communicator (a collective: every rank builds
/// its channels in the same order, from the same plan), so that the feature exchange and the gradient
/// buckets can issue their collectives from transfer threads while the trainer's thread runs the
/// classifier's.
struct TrainingChannels {
    /// Every rank of the run: the step's figures, the resume position, replica digests of the replicated
    /// layers, evaluation tallies across groups. Metered with the classifier (with the gradients when every
    /// layer is replicated: its few messages are counted there).
    let world: Communicator
    /// The rank's group of G: the sharded classifier's all-gathers and reduce-scatters, the labels, the group's
    /// evaluation, and the gathers of checkpoints and the final model; the caller's thread. The world itself
    /// when there is one group (or G = 1).
    let classifier: Communicator
    /// The group's conv features to the FC stack and their gradients back, from the exchange thread.
    let features: Communicator
    /// The replicated layers' gradient buckets over every rank, from the buckets' transfer thread.
    let gradients: Communicator
    /// The ranks holding this rank's FC shard, one per group: the shard gradients' buckets (nil with one group
    /// or G = 1).
    let shardGradients: Communicator?

    init(splitting communicator: Communicator, plan: ParallelPlan, meter: TrafficMeter, timeline: Timeline) throws {
        func metered(_ communicator: Communicator, _ channel: ParallelPlan.Channel) -> Communicator {
            MeteredCommunicator(wrapping: communicator, meter: meter, channel: channel.rawValue, timeline: timeline)
        }
        let rank = communicator.rank, grouped = plan.groupSize > 1 && plan.groups > 1
        world = metered(communicator, plan.groupSize > 1 ? .classifier : .gradients)
        gradients = metered(try communicator.split(color: 0, key: rank), .gradients)
        features = metered(try communicator.split(color: 1 + plan.group, key: plan.position), .features)
        shardGradients =
            grouped ? metered(try communicator.split(color: plan.position, key: plan.group), .shardGradients) : nil
        classifier =
            grouped ? metered(try communicator.split(color: plan.group, key: plan.position), .classifier) : world
    }
}
