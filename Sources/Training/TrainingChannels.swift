import Collectives

/// The communicators of one rank's run, one per `ParallelPlan.Channel`, each metered (Note [bytes sent])
/// and recorded on the rank's timeline. Split from the run's communicator (a collective: every rank builds
/// its channels in the same order), so that the feature exchange and the gradient buckets can issue their
/// collectives from transfer threads while the trainer's thread runs the classifier's.
struct TrainingChannels {
    /// The sharded classifier's all-gathers and reduce-scatters, the labels, evaluation, and the gathers of
    /// checkpoints and the final model: the caller's thread. Under data parallelism its few messages (the
    /// loss sum, evaluation tallies) are counted with the gradients.
    let classifier: Communicator
    /// Conv features to the FC stack and their gradients back (hybrid), from the exchange thread.
    let features: Communicator
    /// The gradient buckets' allreduces, from the buckets' transfer thread.
    let gradients: Communicator

    init(
        splitting communicator: Communicator, parallelism: ParallelPlan.Parallelism, meter: TrafficMeter,
        timeline: Timeline
    ) throws {
        let rank = communicator.rank
        classifier = MeteredCommunicator(
            wrapping: communicator, meter: meter,
            channel: (parallelism == .hybrid ? ParallelPlan.Channel.classifier : .gradients).rawValue,
            timeline: timeline)
        gradients = MeteredCommunicator(
            wrapping: try communicator.split(color: 0, key: rank), meter: meter,
            channel: ParallelPlan.Channel.gradients.rawValue, timeline: timeline)
        features = MeteredCommunicator(
            wrapping: try communicator.split(color: 1, key: rank), meter: meter,
            channel: ParallelPlan.Channel.features.rawValue, timeline: timeline)
    }
}
