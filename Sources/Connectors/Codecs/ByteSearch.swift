/// Byte searches eight bytes at a time (SWAR: one UInt64 load and a few integer operations per
/// eight bytes instead of a compare per byte), for the CSV scanner and the per-record encoding
/// check, the two loops every input byte goes through. Written by hand: the standard library has
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

    /// Bit `k` set where byte `i + k` is `a` or `b`, for the 64 bytes from `i` (which must be in
    /// `buf`). Each word's matches are gathered into one byte by a multiply: the high bit of
    /// byte `j` of `hits` moves to bit 56 + `j` (no two products meet, so nothing carries).
    @inline(__always)
    static func mask64(of a: UInt8, or b: UInt8, in buf: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt64 {
        let wantA = ones &* UInt64(a), wantB = ones &* UInt64(b)
        var mask: UInt64 = 0
        for k in 0..<8 {
            let x = load(buf, i &+ 8 &* k)
            let hits = zeroBytes(x ^ wantA) | zeroBytes(x ^ wantB)
            mask |= ((hits &* 0x0002_0408_1020_4081) >> 56) << UInt64(8 &* k)
        }
        return mask
    }

    /// How many bytes from the start of `buf` are plain ASCII (1 to 0x7F: no NUL, no high byte),
    /// counted 64 bytes at a time and then byte by byte: the common case of a block of text
    /// checked in one pass that touches each word once.
    static func plainASCIIPrefix(_ buf: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = buf.baseAddress else { return 0 }
        let p = UnsafeRawPointer(base)
        let n = buf.count
        var i = 0
        while i &+ 64 <= n {
            var high: UInt64 = 0, zeros: UInt64 = 0
            for k in stride(from: 0, to: 64, by: 8) {
                let x = p.loadUnaligned(fromByteOffset: i &+ k, as: UInt64.self)
                high |= x
                zeros |= zeroBytes(x)
            }
            if (high & highBits) | zeros != 0 { break }
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

/// The delimiters and line feeds of one 64-byte window of the input, as bits: the search for
/// the end of an unquoted field takes the next set bit. Searched field by field, the fields'
/// varying lengths made the search loop's exit a branch the CPU mispredicted every few fields;
/// here that happens once per window. Valid for one buffer: made anew for each.
struct FieldEndWindow {
    private let a: UInt8, b: UInt8
    private var base = Int.min / 2
    private var bits: UInt64 = 0

    /// A window over bytes `a` and `b` (the delimiter and the line feed).
    init(_ a: UInt8, _ b: UInt8) {
        self.a = a
        self.b = b
    }

    /// The first index at or after `from` whose byte is `a` or `b`; `buf.count` when none is.
    @inline(__always)
    mutating func firstIndex(in buf: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        while true {
            let offset = i &- base
            if UInt(bitPattern: offset) < 64 {
                let later = bits & (~0 << UInt64(offset))
                if later != 0 { return base &+ later.trailingZeroBitCount }
                i = base &+ 64
            }
            if i &+ 64 > buf.count { return ByteSearch.firstIndex(of: a, or: b, in: buf, from: i) }
            base = i
            bits = ByteSearch.mask64(of: a, or: b, in: buf, at: i)
        }
    }
}
