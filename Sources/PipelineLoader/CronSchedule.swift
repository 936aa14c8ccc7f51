import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), in the machine's
/// local time like cron itself: `*`, lists `1,15`, ranges `1-5`, steps `*/10` and `8-18/2`, month
/// and day names (`jan`, `mon`), day-of-week 0 or 7 for Sunday. As in Vixie cron, when both day
/// fields are restricted a day matching either one fires.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool

    public var description: String { expression }

    /// Parses the expression; the error says which field is wrong and why.
    public init(parsing text: String) throws(CronError) {
        let fields = text.split(whereSeparator: \.isWhitespace).map { String($0).lowercased() }
        guard fields.count == 5 else { throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)") }
        expression = fields.joined(separator: " ")
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        minutes = try Self.field(fields[0], "minute", 0...59, names: [:])
        hours = try Self.field(fields[1], "hour", 0...23, names: [:])
        days = try Self.field(fields[2], "day-of-month", 1...31, names: [:])
        months = try Self.field(fields[3], "month", 1...12, names: Dictionary(uniqueKeysWithValues: monthNames.enumerated().map { ($1, $0 + 1) }))
        weekdays = Set(try Self.field(fields[4], "day-of-week", 0...7, names: Dictionary(uniqueKeysWithValues: dayNames.enumerated().map { ($1, $0) })).map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
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

    /// The first matching minute strictly after `date`, or nil when none comes within five years
    /// (e.g. `0 0 31 2 *`).
    public func next(after date: Date, calendar: Calendar = .current) -> Date? {
        guard let startMinute = calendar.dateInterval(of: .minute, for: date)?.end else { return nil }
        var day = calendar.startOfDay(for: startMinute)
        for _ in 0..<(366 * 5) {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if let month = c.month, let dom = c.day, let wd = c.weekday, months.contains(month), matchesDay(dom, weekday: wd - 1) {
                for h in hours.sorted() {
                    for m in minutes.sorted() {
                        var dc = DateComponents(year: c.year, month: month, day: dom, hour: h, minute: m)
                        dc.timeZone = calendar.timeZone
                        // A local time skipped by a DST change is not a match.
                        guard let t = calendar.date(from: dc), calendar.component(.hour, from: t) == h else { continue }
                        if t >= startMinute { return t }
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = calendar.startOfDay(for: next)
        }
        return nil
    }

    private func matchesDay(_ dom: Int, weekday: Int) -> Bool {
        switch (daysRestricted, weekdaysRestricted) {
        case (true, true): days.contains(dom) || weekdays.contains(weekday)
        case (true, false): days.contains(dom)
        case (false, true): weekdays.contains(weekday)
        case (false, false): true
        }
    }
}

public struct CronError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
