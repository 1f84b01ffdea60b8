/// A codec is stored as its canonical name (`bf16+zstd`, `topk:0.05`) in results, calibrations and
/// metrics; reading it back parses it (a damaged name is a decoding error naming it).
extension Codec: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        do {
            try self.init(parsing: name)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(error)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Dictionaries keyed by codec encode as objects keyed by the codec's name.
extension Codec: CodingKeyRepresentable {
    public var codingKey: CodingKey { Key(stringValue: description) }

    public init?<T: CodingKey>(codingKey: T) {
        guard let codec = try? Codec(parsing: codingKey.stringValue) else { return nil }
        self = codec
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
