import Foundation
import PipelineLoader
import Testing
import TestSupport

/// Cron against a table of expressions and next firing times (cronie's behaviour; the cases follow
/// the notes on cron pitfalls: DOM/DOW, steps, macros, impossible dates, leap days, DST).
@Suite(.blockingWork) struct ScheduleTests {
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static let saoPaulo = TimeZone(identifier: "America/Sao_Paulo")!

    /// A local wall time in `zone` ("yyyy-MM-dd HH:mm"); the earlier instant when it repeats.
    func local(_ text: String, _ zone: TimeZone = ScheduleTests.newYork) -> Date {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.date(from: text)!
    }

    func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func iso(_ d: Date?) -> String { d.map { ISO8601DateFormatter().string(from: $0) } ?? "never" }

    /// The next `count` firings after `from`, as UTC instants.
    func fires(_ expression: String, _ zone: TimeZone = ScheduleTests.newYork, from: Date, count: Int = 4) throws -> [String] {
        let cron = try CronSchedule(parsing: expression, timeZone: zone)
        var out: [String] = []
        var t = from
        for _ in 0..<count {
            guard let n = cron.next(after: t) else { out.append("never"); break }
            out.append(iso(n))
            t = n
        }
        return out
    }

    /// The next `count` firings as local dates ("MM-dd HH:mm" in `zone`).
    func localFires(_ expression: String, _ zone: TimeZone = ScheduleTests.newYork, from: String, count: Int = 4) throws -> [String] {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "MM-dd HH:mm"
        return try fires(expression, zone, from: local(from, zone), count: count).map { $0 == "never" ? $0 : f.string(from: utc($0)) }
    }

    @Test func dayOfMonthOrDayOfWeek() throws {
        // 2026-01-01 is a Thursday: the 1st, then Fridays, then the 15th.
        #expect(try localFires("30 4 1,15 * 5", from: "2025-12-31 12:00", count: 5) == ["01-01 04:30", "01-02 04:30", "01-09 04:30", "01-15 04:30", "01-16 04:30"])
        #expect(try localFires("0 0 13 * FRI", from: "2026-01-01 12:00") == ["01-02 00:00", "01-09 00:00", "01-13 00:00", "01-16 00:00"])
        // A field starting with '*' makes both fields count (cronie): odd-numbered Saturdays…
        #expect(try localFires("0 16 */2 * sat", from: "2023-05-02 00:00") == ["05-13 16:00", "05-27 16:00", "06-03 16:00", "06-17 16:00"])
        // …while a range with a step is a restriction: odd days or Saturdays.
        #expect(try localFires("0 16 1-31/2 * sat", from: "2023-05-02 00:00") == ["05-03 16:00", "05-05 16:00", "05-06 16:00", "05-07 16:00"])
        #expect(try localFires("* * 1,15 * *", from: "2026-01-02 00:00", count: 1) == ["01-15 00:00"])
        #expect(try localFires("* * * * mon", from: "2026-01-01 00:00", count: 1) == ["01-05 00:00"])
    }

    @Test func sundayIsZeroSevenOrSun() throws {
        let from = local("2026-01-01 00:00")
        let zero = try fires("0 0 * * 0", from: from)
        #expect(zero == (try fires("0 0 * * 7", from: from)))
        #expect(zero == (try fires("0 0 * * SUN", from: from)))
        #expect(try localFires("0 0 * * 0", from: "2026-01-01 00:00", count: 1) == ["01-04 00:00"])
    }

    @Test func macros() throws {
        let from = local("2026-05-17 13:20")
        for (macro, expression) in [("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@weekly", "0 0 * * 0"),
                                    ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *")] {
            #expect(try fires(macro, from: from) == (try fires(expression, from: from)), "\(macro)")
        }
        #expect(try localFires("@monthly", from: "2026-05-17 13:20", count: 2) == ["06-01 00:00", "07-01 00:00"])
        #expect(throws: CronError.self) { try CronSchedule(parsing: "@reboot") }
        #expect(throws: CronError.self) { try CronSchedule(parsing: "@fortnightly") }
    }

    @Test func stepsRollOverAndImpossibleDates() throws {
        #expect(try fires("*/60 * * * *", from: local("2026-01-01 10:10")) == (try fires("0 * * * *", from: local("2026-01-01 10:10"))))
        #expect(try localFires("*/15 * * * *", from: "2026-01-01 23:46", count: 1) == ["01-02 00:00"])
        #expect(try localFires("59 23 31 12 *", from: "2026-12-31 23:59", count: 1) == ["12-31 23:59"]) // a year later
        #expect(try fires("59 23 31 12 *", from: local("2026-12-31 23:59"), count: 1) == [iso(local("2027-12-31 23:59"))])
        #expect(try fires("* * * * *", from: local("2026-12-31 23:59"), count: 1) == [iso(local("2027-01-01 00:00"))])
        #expect(try fires("0 0 29 2 *", from: local("2012-07-09 00:00"), count: 1) == [iso(local("2016-02-29 00:00"))])
        // Never: a bounded search, not an endless loop.
        #expect(try fires("0 0 30 2 *", from: local("2026-01-01 00:00"), count: 1) == ["never"])
        #expect(try fires("0 0 31 4 *", from: local("2026-01-01 00:00"), count: 1) == ["never"])
        #expect(try localFires("*/15 8-18/2 * * *", from: "2026-11-25 18:50", count: 1) == ["11-26 08:00"])
        #expect(try localFires("0 6 * * mon-fri", from: "2026-11-27 07:00", count: 1) == ["11-30 06:00"])
    }

    /// New York, 2012-03-11: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    @Test func springForwardRunsFixedTimesRightAfterTheJump() throws {
        #expect(try fires("0 2 * * *", from: local("2012-03-11 00:00"), count: 2) == ["2012-03-11T07:00:00Z", "2012-03-12T06:00:00Z"])
        #expect(try fires("30 2 11 3 *", from: local("2012-03-01 00:00"), count: 1) == ["2012-03-11T07:00:00Z"])
        // Wildcard hours follow the wall clock: 01:00 EST, then 03:00 EDT.
        #expect(try fires("0 * * * *", from: utc("2012-03-11T05:30:00Z"), count: 3) == ["2012-03-11T06:00:00Z", "2012-03-11T07:00:00Z", "2012-03-11T08:00:00Z"])
        // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        #expect(try fires("30 2 * * *", Self.berlin, from: utc("2026-03-28T22:00:00Z"), count: 2) == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
        // São Paulo, 2018-11-04: midnight jumped to 01:00 (03:00 UTC); a daily job ran then.
        #expect(try fires("@daily", Self.saoPaulo, from: utc("2018-11-03T15:00:00Z"), count: 2) == ["2018-11-04T03:00:00Z", "2018-11-05T02:00:00Z"])
    }

    /// New York, 2012-11-04: 02:00 EDT falls back to 01:00 EST (06:00 UTC).
    @Test func fallBackRunsFixedTimesOnceAndWildcardsInBothPasses() throws {
        #expect(try fires("0 1 * * *", from: local("2012-11-04 00:00"), count: 2) == ["2012-11-04T05:00:00Z", "2012-11-05T06:00:00Z"])
        #expect(try fires("0 2 * * *", from: local("2012-11-04 00:00"), count: 2) == ["2012-11-04T07:00:00Z", "2012-11-05T07:00:00Z"])
        #expect(try fires("0 * * * *", from: utc("2012-11-04T04:30:00Z"), count: 3) == ["2012-11-04T05:00:00Z", "2012-11-04T06:00:00Z", "2012-11-04T07:00:00Z"])
        // Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
        #expect(try fires("30 2 * * *", Self.berlin, from: utc("2026-10-24T22:00:00Z"), count: 2) == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        #expect(try fires("0 * * * *", Self.berlin, from: utc("2026-10-24T23:30:00Z"), count: 3) == ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"])
        // São Paulo, 2019-02-17: midnight fell back to 23:00 on the 16th; 23:30 ran once.
        #expect(try fires("30 23 * * *", Self.saoPaulo, from: utc("2019-02-16T15:00:00Z"), count: 2) == ["2019-02-17T01:30:00Z", "2019-02-18T02:30:00Z"])
    }

    @Test func badExpressionsSayWhichField() {
        #expect(throws: CronError.self) { try CronSchedule(parsing: "30 23 * *") }
        for (text, field) in [("61 * * * *", "minute"), ("0 24 * * *", "hour"), ("0 0 0 * *", "day-of-month"),
                              ("0 0 * 13 *", "month"), ("0 0 * * 8", "day-of-week"), ("*/0 * * * *", "minute"), ("0 5-2 * * *", "hour")] {
            do {
                _ = try CronSchedule(parsing: text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.description.hasPrefix(field), "\(text): \(error)")
            }
        }
    }

    @Test func scheduleStringsParse() throws {
        #expect(try Schedule.parse("every 30s") == .every(30))
        #expect(try Schedule.parse("watch") == .watch(1))
        #expect(try Schedule.parse("watch 500ms") == .watch(0.5))
        #expect(try Schedule.parse("manual") == .manual)
        guard case let .cron(c) = try Schedule.parse("30 23 * * *", timeZone: Self.berlin) else { Issue.record("not cron"); return }
        #expect(c.expression == "30 23 * * *" && c.timeZone == Self.berlin)
        guard case .cron = try Schedule.parse("@daily") else { Issue.record("@daily is not cron"); return }
        #expect(throws: (any Error).self) { try Schedule.parse("at midnight") }
        let now = Date()
        #expect(Schedule.every(30).delay(now: now, lastRunEnded: nil) == 0)
        #expect(Schedule.every(30).delay(now: now, lastRunEnded: now.addingTimeInterval(-10)) == 20)
        #expect(Schedule.manual.delay(now: now, lastRunEnded: nil) == nil)
    }
}
