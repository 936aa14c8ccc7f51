/// Proleptic Gregorian calendar arithmetic without Foundation, fast enough for per-row use.
/// (Howard Hinnant's days-from-civil algorithm.)
public enum CivilDate {
    /// Days since 1970-01-01 of the given date.
    @inlinable
    public static func days(year: Int, month: Int, day: Int) -> Int {
        // Plant data is dated within a few centuries: a table of month starts saves the
        // divisions of the general formula for every timestamp parsed.
        let index = (year - monthStartsFirstYear) &* 12 &+ (month - 1)
        if index >= 0 && index < monthStarts.count && month >= 1 && month <= 12 {
            return Int(monthStarts[index]) + day - 1
        }
        return daysByFormula(year: year, month: month, day: day)
    }

    @usableFromInline static let monthStartsFirstYear = 1800
    /// Days since 1970-01-01 of the first day of each month, 1800-01 … 2299-12.
    @usableFromInline static let monthStarts: [Int32] = (0..<(500 * 12)).map { k in
        Int32(daysByFormula(year: monthStartsFirstYear + k / 12, month: k % 12 + 1, day: 1))
    }

    @usableFromInline static func daysByFormula(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The (year, month, day) of a count of days since 1970-01-01.
    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        default: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        }
    }

    /// `yyyy-MM-dd`.
    public static func format(days: Int32) -> String {
        let (y, m, d) = civil(days: Int(days))
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// ISO 8601 in UTC with microseconds: `2024-03-01T12:00:00.000000Z`.
    public static func formatTimestamp(micros: Int64) -> String {
        var bytes: [UInt8] = []
        appendTimestamp(micros: micros, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `yyyy-MM-dd` as ASCII.
    public static func appendDate(days: Int32, to out: inout [UInt8]) {
        let (y, m, d) = civil(days: Int(days))
        appendDigits(y, 4, &out); out.append(UInt8(ascii: "-"))
        appendDigits(m, 2, &out); out.append(UInt8(ascii: "-"))
        appendDigits(d, 2, &out)
    }

    public static let microsPerDay: Int64 = 86_400_000_000

    /// The day (since 1970-01-01) of a time in microseconds since then, rounded down: times
    /// before 1970 fall on the day they are in, not the next one.
    @inlinable
    public static func day(ofMicros micros: Int64) -> Int64 {
        let q = micros / microsPerDay
        return micros % microsPerDay < 0 ? q - 1 : q
    }

    /// Appends ISO 8601 UTC with microseconds as ASCII.
    public static func appendTimestamp(micros: Int64, to out: inout [UInt8]) {
        let days = day(ofMicros: micros)
        let rem = micros - days * microsPerDay
        appendDate(days: Int32(days), to: &out)
        out.append(UInt8(ascii: "T"))
        let secs = Int(rem / 1_000_000)
        appendDigits(secs / 3600, 2, &out); out.append(UInt8(ascii: ":"))
        appendDigits(secs / 60 % 60, 2, &out); out.append(UInt8(ascii: ":"))
        appendDigits(secs % 60, 2, &out); out.append(UInt8(ascii: "."))
        appendDigits(Int(rem % 1_000_000), 6, &out)
        out.append(UInt8(ascii: "Z"))
    }

    @inlinable
    static func appendDigits(_ value: Int, _ width: Int, _ out: inout [UInt8]) {
        var v = value
        if v < 0 { out.append(UInt8(ascii: "-")); v = -v }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { buf in
            repeat {
                buf[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0 && n < 12
            while n < width && n < 12 { buf[n] = 48; n += 1 }
            for i in stride(from: n - 1, through: 0, by: -1) { out.append(buf[i]) }
        }
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        var out: [UInt8] = []
        appendDigits(v, width, &out)
        return String(decoding: out, as: UTF8.self)
    }
}
