import Foundation

/// SplitMix64 (Steele, Lea & Flood, 2014): a small seedable generator whose sequence depends only on the
/// seed, on every machine. Used for initialisation and shuffling.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix64(state)
    }

    /// A standard normal sample (Box–Muller, one of the pair).
    public mutating func nextNormal() -> Double {
        // u1 in (0, 1]: 53 random bits, never zero.
        let u1 = Double((next() >> 11) + 1) * 0x1p-53
        let u2 = Double(next() >> 11) * 0x1p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// SplitMix64's finaliser: a bijective mix of 64 bits. Used as a counter-based generator: the random
/// bits for counter c under key k are `mix64(k ^ c)`, so any element's random number can be computed
/// without the ones before it (dropout masks that do not depend on how work is split across ranks).
@inline(__always)
public func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// A stable 64-bit key for a string (FNV-1a), for per-tensor seeds that do not depend on layer order.
public func stableHash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    return mix64(h)
}
