import ConnectorKit
import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`) in a time zone.
/// Hand-written: no cron library is among the packages available here.
///
/// Fields take `*`, lists `1,15`, ranges `1-5`, steps `*/10` and `8-18/2`, month and day names
/// (`jan`, `mon-fri`), and 0 or 7 for Sunday; a step longer than its range selects the range start
/// (`*/60` is minute 0). Macros: `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
/// (`@midnight`), `@hourly`. Behaviour follows cronie:
/// - When both day fields are restricted (neither starts with `*`), a day matching either fires
///   (`0 0 13 * fri`: every 13th and every Friday); otherwise a day must match both, so
///   `0 16 */2 * sat` is odd-numbered Saturdays, as in cronie.
/// - A job at a fixed time (neither its minute nor its hour field starts with `*`) whose time a
///   daylight-saving change skips runs right after the jump; in an hour that repeats, it runs once.
///   Jobs with a wildcard minute or hour follow the wall clock: nothing in a skipped hour, both
///   passes of a repeated one.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    public let timeZone: TimeZone
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool
    /// Minute and hour both fixed: the daylight-saving rules above apply.
    let fixedTime: Bool

    public var description: String { expression }

    static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses the expression; the error says which field is wrong and why.
    public init(parsing text: String, timeZone: TimeZone = .current) throws(CronError) {
        var source = text.trimmingCharacters(in: .whitespaces).lowercased()
        if source.hasPrefix("@") {
            if source == "@reboot" { throw CronError("@reboot is not supported: an \"every\" schedule runs when the daemon starts") }
            guard let expanded = Self.macros[source] else {
                throw CronError("unknown macro '\(source)' (known: \(Self.macros.keys.sorted().joined(separator: ", ")))")
            }
            source = expanded
        }
        let fields = source.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else { throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)") }
        expression = text.trimmingCharacters(in: .whitespaces)
        self.timeZone = timeZone
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        minutes = try Self.field(fields[0], "minute", 0...59, names: [:])
        hours = try Self.field(fields[1], "hour", 0...23, names: [:])
        days = try Self.field(fields[2], "day-of-month", 1...31, names: [:])
        months = try Self.field(fields[3], "month", 1...12, names: Dictionary(uniqueKeysWithValues: monthNames.enumerated().map { ($1, $0 + 1) }))
        weekdays = Set(try Self.field(fields[4], "day-of-week", 0...7, names: Dictionary(uniqueKeysWithValues: dayNames.enumerated().map { ($1, $0) })).map { $0 % 7 })
        // As cronie decides it: by the field's first character.
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
        fixedTime = !fields[0].hasPrefix("*") && !fields[1].hasPrefix("*")
    }

    private static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String: Int]) throws(CronError) -> Set<Int> {
        var out = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw CronError("\(what) field '\(text)': more than one '/'") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw CronError("\(what) field '\(text)': the step after '/' must be a positive number") }
                step = s
            }
            let base = pieces[0]
            var low = range.lowerBound, high = range.upperBound
            if base != "*" {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw CronError("\(what) field '\(text)': bad range '\(base)'") }
                func value(_ s: Substring) throws(CronError) -> Int {
                    if let v = Int(s) ?? names[String(s)], range.contains(v) { return v }
                    throw CronError("\(what) field '\(text)': '\(s)' is not in \(range.lowerBound)-\(range.upperBound)")
                }
                low = try value(bounds[0])
                high = bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : low)
                guard low <= high else { throw CronError("\(what) field '\(text)': range \(low)-\(high) runs backwards") }
            }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    /// The first firing strictly after `date`, or nil when none comes within five years
    /// (`0 0 30 2 *`).
    public func next(after date: Date) -> Date? {
        let now = date.timeIntervalSince1970
        let local = now + Double(timeZone.secondsFromGMT(for: date))
        // From the day before (a repeated hour can put an instant after `date` on it).
        var day = Int((local / 86_400).rounded(.down)) - 1
        for _ in 0..<(366 * 5 + 2) {
            defer { day += 1 }
            let (_, month, dom) = CivilDate.civil(days: day)
            let weekday = ((day % 7) + 11) % 7 // 1970-01-01 was a Thursday (4); 0 is Sunday
            guard months.contains(month), matchesDay(dom, weekday: weekday) else { continue }
            for h in hours.sorted() {
                for m in minutes.sorted() {
                    let wall = Double(day) * 86_400 + Double(h * 3600 + m * 60)
                    if wall + 13 * 3600 <= now { continue } // every offset puts it before `date`
                    for t in instants(wall) where t > now { return Date(timeIntervalSince1970: t) }
                }
            }
        }
        return nil
    }

    /// The instants whose local time is `wall` (seconds since 1970 as if local time were UTC):
    /// one; two in a repeated hour (one for a fixed-time job); none in a skipped hour, except the
    /// moment after the jump for a fixed-time job.
    func instants(_ wall: Double) -> [Double] {
        func offset(_ t: Double) -> Double { Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: t))) }
        // The offsets in force a day either side; zones change offset at most once in two days.
        let before = offset(wall - 86_400 - 14 * 3600), after = offset(wall + 86_400 + 14 * 3600)
        var found: [Double] = []
        for off in Set([before, after]).sorted(by: >) where offset(wall - off) == off {
            found.append(wall - off)
        }
        if found.count > 1 { return fixedTime ? [found[0]] : found }
        if !found.isEmpty || !fixedTime { return found }
        // Skipped by a jump forward: the first instant on the new offset.
        guard after > before else { return [] }
        var lo = wall - after, hi = wall - before // offset(lo) == before, offset(hi) == after
        while hi - lo > 1 {
            let mid = ((lo + hi) / 2).rounded(.down)
            if offset(mid) == before { lo = mid } else { hi = mid }
        }
        return [hi]
    }

    /// cronie's rule: either day field starting with `*` makes it "both must match" (a plain `*`
    /// matches every day; `*/2` only odd ones), otherwise "either matches".
    private func matchesDay(_ dom: Int, weekday: Int) -> Bool {
        if !daysRestricted || !weekdaysRestricted { return days.contains(dom) && weekdays.contains(weekday) }
        return days.contains(dom) || weekdays.contains(weekday)
    }
}

public struct CronError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
