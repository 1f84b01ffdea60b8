import Collectives
import Launch
import Reports
import Training

/// The command line's parsers on each line of the input: a codec, a codec list, an integer list, a link;
/// the whole input as a hostfile.
func fuzzCommandLine(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if let codec = try? Codec(parsing: line) {
            // The canonical name reads back as the same codec.
            precondition((try? Codec(parsing: codec.description)) == codec, "\(codec) does not read back")
        }
        _ = try? Codec.list(parsing: line)
        _ = IntegerList(argument: line)
        _ = try? Link(parsing: line)
    }
    if let hostfile = try? Hostfile(parsing: text, path: "input") {
        _ = hostfile.slots
        _ = hostfile.host(ofRank: hostfile.slots - 1)
    }
}
