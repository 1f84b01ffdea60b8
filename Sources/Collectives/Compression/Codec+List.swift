extension Codec {
    /// A comma-separated list of codecs (`none,bf16+zstd,topk:0.05`), each as `init(parsing:)` reads it.
    public static func list(parsing text: String) throws -> [Codec] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { try Codec(parsing: String($0)) }
    }
}
