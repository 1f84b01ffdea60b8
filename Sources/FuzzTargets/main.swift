import Foundation

// libFuzzer targets, one per parser of outside input: `alexnet-dist-fuzz TARGET [libFuzzer options] [CORPUS…]`.
// Built only with ALEXNET_FUZZ=1 and -sanitize=fuzzer (Scripts/fuzz.sh); see FuzzTarget for the list.
// Each target hands libFuzzer's bytes to the real reader; a thrown error is a pass, a trap or a
// sanitizer report is a finding.

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

func fuzzMain() -> Int32 {
    let arguments = CommandLine.arguments
    guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(
            Data("usage: alexnet-dist-fuzz TARGET [libFuzzer options] (TARGET: \(names))\n".utf8))
        return 2
    }
    FuzzTarget.selected = target
    // libFuzzer sees the program name and the rest, without the target's name.
    var kept = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
    var count = Int32(kept.count - 1)
    return kept.withUnsafeMutableBufferPointer { buffer in
        var base = buffer.baseAddress
        return LLVMFuzzerRunDriver(&count, &base, fuzzOneInput)
    }
}

/// libFuzzer's own entry point, which its runtime references: the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

exit(fuzzMain())
