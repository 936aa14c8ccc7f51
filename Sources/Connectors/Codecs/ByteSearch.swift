import CByteClasses

/// Byte searches eight bytes at a time (SWAR: one UInt64 load and a few integer operations per
/// eight bytes instead of a compare per byte) or 64 at a time (SSE2, `CByteClasses`), for the
/// CSV scanner and the encoding check, the two loops every input byte goes through. Written by hand: the standard library has
/// no multi-byte search, and `memchr` finds one byte value, not either of two.
enum ByteSearch {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080
    static let lowBits: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The high bit of every byte of `x` that is zero, and of no other (the low seven bits are
    /// added apart from the high bit, so no carry crosses into the next byte).
    @inline(__always)
    static func zeroBytes(_ x: UInt64) -> UInt64 {
        ~(((x & lowBits) &+ lowBits) | x | lowBits)
    }

    @inline(__always)
    static func load(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(buf.baseAddress!).loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    /// The first index at or after `from` whose byte is `a` or `b`; `buf.count` when none is.
    @inline(__always)
    static func firstIndex(of a: UInt8, or b: UInt8, in buf: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        let n = buf.count
        var i = from
        if n >= 8 {
            let wantA = ones &* UInt64(a), wantB = ones &* UInt64(b)
            while i <= n - 8 {
                let x = load(buf, i)
                let hits = zeroBytes(x ^ wantA) | zeroBytes(x ^ wantB)
                if hits != 0 { return i + hits.trailingZeroBitCount >> 3 }
                i += 8
            }
        }
        while i < n && buf[i] != a && buf[i] != b { i += 1 }
        return i
    }

    /// How many bytes from the start of `buf` are plain ASCII (1 to 0x7F: no NUL, no high byte),
    /// 64 bytes at a time (SSE2 through `CByteClasses`), then byte by byte: the common case of
    /// a block of text checked in one pass.
    static func plainASCIIPrefix(_ buf: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = buf.baseAddress else { return 0 }
        let n = buf.count
        var i = 0
        while i &+ 64 <= n {
            let other = sluice_not_plain_ascii64(base + i)
            if other != 0 { return i &+ other.trailingZeroBitCount }
            i &+= 64
        }
        while i < n && base[i] != 0 && base[i] < 0x80 { i &+= 1 }
        return i
    }

    /// Whether `buf` holds a NUL byte, and whether it holds a byte of 0x80 or more.
    @inline(__always)
    static func nulAndHighBytes(_ buf: UnsafeBufferPointer<UInt8>) -> (nul: Bool, high: Bool) {
        let n = buf.count
        var zeros: UInt64 = 0, all: UInt64 = 0
        var i = 0
        if n >= 8 {
            while i <= n - 8 {
                let x = load(buf, i)
                zeros |= zeroBytes(x)
                all |= x
                i += 8
            }
        }
        var nul = zeros != 0, high = all & highBits != 0
        while i < n {
            nul = nul || buf[i] == 0
            high = high || buf[i] >= 0x80
            i += 1
        }
        return (nul, high)
    }
}
