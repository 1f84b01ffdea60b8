extension CostModel {
    /// Note [two-level links]: a cluster is nodes of P consecutive ranks (mpirun's and srun's default
    /// placement), joined by a network; inside a node ranks talk through shared memory. A collective whose
    /// members all share a node runs at the node's α and β. One that crosses nodes pays the network's α per
    /// message step, and its bytes go at the slower of shared memory and the node's network link, which all
    /// P ranks of the node load at once (every rank runs the same collective of the step, SPMD): of a rank's
    /// sends, the fraction (n − p)/(n − 1) to members on other nodes (n members, p of them per node) shares
    /// the link P ways. So a group of G ≤ P ranks keeps its FC exchanges in shared memory, and the conv and
    /// shard gradients cross the network; with one rank per node (P = 1) every collective sees the network
    /// alone, the model of the measured points. `bench links` measures both levels; `plan` and
    /// `train --parallel auto` use them.
    ///
    /// The links of a cluster of nodes with `ranksPerNode` consecutive ranks each.
    public struct Network: Codable, Sendable, Equatable {
        /// P: ranks per node (1: every rank its own host).
        public var ranksPerNode: Int
        /// Between two ranks of one node (shared memory).
        public var intraNode: LinkCost
        /// Between nodes, per node: its ranks share it.
        public var interNode: LinkCost

        public init(ranksPerNode: Int, intraNode: LinkCost, interNode: LinkCost) {
            self.ranksPerNode = max(1, ranksPerNode)
            self.intraNode = intraNode
            self.interNode = interNode
        }

        /// One link between every pair of ranks, as if each were its own host.
        public static func flat(_ link: LinkCost) -> Network {
            Network(ranksPerNode: 1, intraNode: link, interNode: link)
        }

        /// The cost per message step and per byte a rank sees in a collective over `members` ranks spaced
        /// `stride` apart (a group: stride 1; the holders of one FC shard: stride G), while every rank of its
        /// node runs the same kind of collective (Note [two-level links]).
        public func link(members n: Int, stride: Int) -> LinkCost {
            let p = ranksPerNode
            let perNode = min(n, max(1, p / max(1, stride)))
            guard perNode < n else { return intraNode }
            // Of a rank's sends, those to members on other nodes go through the node's link, which the node's P
            // ranks share; those inside the node run on shared memory at the same time.
            let offNode = Double(n - perNode) / Double(n - 1)
            let secondsPerByte = max(1 / intraNode.beta, Double(p) * offNode / interNode.beta)
            return LinkCost(alpha: interNode.alpha, beta: 1 / secondsPerByte)
        }
    }
}
