#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parsers from field bytes straight to typed values, without building a `String` per value.
struct NumberParsing: Sendable {
    /// `.` or `,`.
    var decimalSeparator: UInt8 = UInt8(ascii: ".")
    /// Ignored between digits when set (e.g. `.` in `1.234,5`).
    var thousandsSeparator: UInt8?
    /// The static tables, held by each parser: a static is reached through a `swift_once` call
    /// per use, which showed in per-value profiles.
    let doublePowers = NumberParsing.powersOf10
    let int128Powers = NumberParsing.powersOf10Int128

    /// Reads the digits from `i` on (stopping at the first other byte) into `v`, wrapping:
    /// callers bound how many there can be. Returns how many it read.
    @inline(__always)
    private static func accumulateDigits<T: FixedWidthInteger>(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, into v: inout T) -> Int {
        let start = i
        while i < b.count {
            let d = b[i] &- 48
            if d > 9 { break }
            v = v &* 10 &+ T(d)
            i &+= 1
        }
        return i &- start
    }

    /// Whether `b` starts with a minus, and where its digits start (after a sign, if any).
    @inline(__always)
    private static func sign(_ b: UnsafeBufferPointer<UInt8>) -> (negative: Bool, start: Int) {
        let negative = b[0] == UInt8(ascii: "-")
        return (negative, negative || b[0] == UInt8(ascii: "+") ? 1 : 0)
    }

    @inline(__always)
    func parseInt(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        // Eighteen characters or fewer hold at most 18 digits, which no Int64 overflows: one
        // plain loop, no overflow checks.
        if b.count <= 18 && thousandsSeparator == nil { return parseShortInt(b) }
        return parseCheckedInt(b)
    }

    @inline(__always)
    func parseShortInt(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard b.count > 0 else { return nil }
        var (negative, i) = Self.sign(b)
        var v: Int64 = 0
        guard Self.accumulateDigits(b, &i, into: &v) > 0, i == b.count else { return nil }
        return negative ? 0 &- v : v
    }

    /// Any length, thousands separators, overflow checked digit by digit.
    func parseCheckedInt(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let n = b.count
        guard n > 0 else { return nil }
        var negative = false
        if b[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if b[0] == UInt8(ascii: "+") { i = 1 }
        guard i < n else { return nil }
        var v: Int64 = 0
        while i < n {
            let c = b[i]
            let d = c &- 48
            if d > 9 {
                if let t = thousandsSeparator, c == t, i > 0 { i += 1; continue }
                return nil
            }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            v = s
            i += 1
        }
        return v
    }

    private static let powersOf10: [Double] = (0...22).map { pow(10.0, Double($0)) }

    @inline(__always)
    func parseDouble(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        let n = b.count
        guard n > 0 else { return nil }
        // Fast path: [sign] digits [sep digits], at most 15 significant digits: exact (Clinger).
        var (negative, i) = Self.sign(b)
        // The integer digits, then the fraction's: two loops with no state between digits.
        var mantissa: UInt64 = 0
        var digits = Self.accumulateDigits(b, &i, into: &mantissa)
        var fraction = 0
        if i < n && b[i] == decimalSeparator {
            i &+= 1
            fraction = Self.accumulateDigits(b, &i, into: &mantissa)
            digits &+= fraction
        }
        if i == n && digits > 0 && digits <= 15 {
            let v = Double(mantissa) / doublePowers.withUnsafeBufferPointer { $0[fraction] }
            return negative ? -v : v
        }
        return slowDouble(b)
    }

    func slowDouble(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        guard b.count < 256 else { return nil }
        var tmp = [CChar](repeating: 0, count: b.count + 1)
        var k = 0
        for c in b {
            if let t = thousandsSeparator, c == t { continue }
            if c == decimalSeparator { tmp[k] = CChar(UInt8(ascii: ".")) }
            else if c == UInt8(ascii: ".") && decimalSeparator != UInt8(ascii: ".") { return nil }
            else { tmp[k] = CChar(bitPattern: c) }
            k += 1
        }
        tmp[k] = 0
        // strtod accepts hex floats, "inf" and "nan"; only plain decimal notation is data here.
        for c in tmp[0..<k] {
            let u = UInt8(bitPattern: c)
            if !((u >= 48 && u <= 57) || u == UInt8(ascii: ".") || u == UInt8(ascii: "-") || u == UInt8(ascii: "+") || u == UInt8(ascii: "e") || u == UInt8(ascii: "E")) {
                return nil
            }
        }
        return tmp.withUnsafeBufferPointer { p -> Double? in
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(p.baseAddress!, &end)
            guard let end, end - UnsafeMutablePointer(mutating: p.baseAddress!) == k, k > 0 else { return nil }
            return v
        }
    }

    enum DecimalProblem: Error { case syntax, precision }

    /// Exact decimal: unscaled value at `scale`, rounded half away from zero (as PostgreSQL does).
    @inline(__always)
    func parseDecimal(_ b: UnsafeBufferPointer<UInt8>, precision: Int, scale: Int) -> Result<Int128, DecimalProblem> {
        // Up to 18 digits the unscaled value fits an Int64, whose arithmetic is much cheaper.
        if precision <= 18 {
            if thousandsSeparator == nil, let v = parsePlainDecimal(b, precision: precision, scale: scale) { return .success(Int128(v)) }
            return parseDecimal(b, precision: precision, scale: scale, as: Int64.self).map { Int128($0) }
        }
        return parseDecimal(b, precision: precision, scale: scale, as: Int128.self)
    }

    /// The common decimal, `[sign]digits[.digits]` with no more integer digits than fit and no
    /// more fraction digits than the scale: two plain loops. nil when the value is anything else
    /// (longer fractions round, errors are named), for the general parser to read.
    @inline(__always)
    func parsePlainDecimal(_ b: UnsafeBufferPointer<UInt8>, precision: Int, scale: Int) -> Int64? {
        let n = b.count
        guard n > 0 && n <= 18 else { return nil }
        var (negative, i) = Self.sign(b)
        var v: Int64 = 0
        var digits = Self.accumulateDigits(b, &i, into: &v)
        var fraction = 0
        if i < n {
            guard b[i] == decimalSeparator else { return nil }
            i &+= 1
            fraction = Self.accumulateDigits(b, &i, into: &v)
            guard i == n else { return nil }
            digits &+= fraction
        }
        // At most 18 digits read (n <= 18), and with the scale's zeros still at most 18: v
        // cannot overflow. Too many fraction digits round: the general way.
        guard digits > 0 && fraction <= scale && digits &+ (scale &- fraction) <= 18 else { return nil }
        var k = fraction
        while k < scale { v = v &* 10; k &+= 1 }
        guard Int128(v) < int128Powers.withUnsafeBufferPointer({ $0[precision] }) else { return nil }
        return negative ? 0 &- v : v
    }

    @inline(__always)
    func parseDecimal<T: FixedWidthInteger & SignedInteger>(_ b: UnsafeBufferPointer<UInt8>, precision: Int, scale: Int, as: T.Type) -> Result<T, DecimalProblem> {
        var i = 0
        let n = b.count
        guard n > 0 else { return .failure(.syntax) }
        var negative = false
        if b[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if b[0] == UInt8(ascii: "+") { i = 1 }
        var v: T = 0
        var intDigits = 0
        var fracDigits = 0
        var seenSep = false
        var roundUp = false
        var any = false
        let maxIntDigits = max(0, precision - scale)
        while i < n {
            let c = b[i]
            let d = c &- 48
            if d <= 9 {
                any = true
                if seenSep {
                    if fracDigits < scale {
                        v = v &* 10 &+ T(d)
                        fracDigits += 1
                    } else if fracDigits == scale {
                        roundUp = d >= 5
                        fracDigits += 1
                    }
                } else {
                    if intDigits > 0 || d != 0 { intDigits += 1 }
                    // More integer digits than the type holds: out of range now, before the
                    // value (with its fraction digits still to come) could overflow.
                    if intDigits > maxIntDigits { return .failure(.precision) }
                    v = v &* 10 &+ T(d)
                }
            } else if c == decimalSeparator && !seenSep {
                seenSep = true
            } else if let t = thousandsSeparator, c == t, !seenSep {
                // skip
            } else {
                return .failure(.syntax)
            }
            i += 1
        }
        guard any else { return .failure(.syntax) }
        while fracDigits < scale { v = v &* 10; fracDigits += 1 }
        if roundUp { v = v &+ 1 }
        if precision <= 38 && Int128(v) >= int128Powers[precision] { return .failure(.precision) }
        return .success(negative ? 0 &- v : v)
    }

    /// 10^0 … 10^38 (the largest decimal precision).
    private static let powersOf10Int128: [Int128] = {
        var p: [Int128] = [1]
        for _ in 1...38 { p.append(p[p.count - 1] * 10) }
        return p
    }()

    static func tenPow(_ k: Int) -> Int128 {
        k <= 38 ? powersOf10Int128[k] : (0..<k).reduce(Int128(1)) { r, _ in r &* 10 }
    }

    @inline(__always)
    func parseBool(_ b: UnsafeBufferPointer<UInt8>) -> Bool? {
        if b.count == 1 {
            switch b[0] | 0x20 {
            case UInt8(ascii: "1") | 0x20, UInt8(ascii: "t"), UInt8(ascii: "y"): return true
            case UInt8(ascii: "0") | 0x20, UInt8(ascii: "f"), UInt8(ascii: "n"): return false
            default: return nil
            }
        }
        guard b.count <= 5 else { return nil }
        var lower: UInt64 = 0
        for c in b { lower = lower << 8 | UInt64(c | 0x20) }
        switch lower {
        case 0x74_72_75_65, 0x79_65_73, 0x6F_6E: return true // true, yes, on
        case 0x66_61_6C_73_65, 0x6E_6F, 0x6F_66_66: return false // false, no, off
        default: return nil
        }
    }
}
