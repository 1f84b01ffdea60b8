/// What watches over one rank of a run: its status (read by the collective watchdog, Note [collective
/// watchdog]) and the stop request it honours (Note [stopping on a signal]). A trainer built without one
/// is watched by nothing and never asked to stop.
public struct Supervision: Sendable {
    public var status: RankStatus?
    public var stop: StopRequest
    /// Where the watchdog's warnings go besides stderr.
    public var notices: RunNotices

    public init(status: RankStatus? = nil, stop: StopRequest = StopRequest(), notices: RunNotices = RunNotices()) {
        self.status = status
        self.stop = stop
        self.notices = notices
    }
}
