import Foundation
import PipelineLoader
import Testing

@Suite struct ScheduleTests {
    var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "America/Sao_Paulo")!
        return c
    }

    func date(_ text: String) -> Date {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = calendar.timeZone
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.date(from: text)!
    }

    func next(_ expression: String, after: String) throws -> Date? {
        try CronSchedule(parsing: expression).next(after: date(after), calendar: calendar)
    }

    @Test func nightlyJobFiresAtTwentyThreeThirtyLocalTime() throws {
        #expect(try next("30 23 * * *", after: "2026-11-25 10:00") == date("2026-11-25 23:30"))
        #expect(try next("30 23 * * *", after: "2026-11-25 23:30") == date("2026-11-26 23:30")) // strictly after
        #expect(try next("30 23 * * *", after: "2026-12-31 23:45") == date("2027-01-01 23:30"))
    }

    @Test func listsRangesStepsAndNames() throws {
        #expect(try next("*/15 8-18/2 * * *", after: "2026-11-25 18:50") == date("2026-11-26 08:00"))
        #expect(try next("*/15 8-18/2 * * *", after: "2026-11-25 09:10") == date("2026-11-25 10:00"))
        #expect(try next("0 6 * * mon-fri", after: "2026-11-27 07:00") == date("2026-11-30 06:00")) // Friday → Monday
        #expect(try next("0 0 1,15 * *", after: "2026-11-02 00:00") == date("2026-11-15 00:00"))
        #expect(try next("0 12 * feb 0", after: "2026-11-25 00:00") == date("2027-02-07 12:00")) // first Sunday of Feb
        #expect(try next("0 0 29 2 *", after: "2026-03-01 00:00") == date("2028-02-29 00:00"))
        #expect(try next("0 0 31 2 *", after: "2026-03-01 00:00") == nil)
    }

    @Test func bothDayFieldsRestrictedMatchEitherLikeCron() throws {
        // The 13th, or any Friday: 2026-11-27 is a Friday, before December 13th.
        #expect(try next("0 0 13 * 5", after: "2026-11-25 00:00") == date("2026-11-27 00:00"))
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
        #expect(try Schedule.parse("manual") == .manual)
        guard case let .cron(c) = try Schedule.parse("30 23 * * *") else { Issue.record("not cron"); return }
        #expect(c.expression == "30 23 * * *")
        #expect(throws: (any Error).self) { try Schedule.parse("at midnight") }
        let now = Date()
        #expect(Schedule.every(30).delay(now: now, lastRunEnded: nil) == 0)
        #expect(Schedule.every(30).delay(now: now, lastRunEnded: now.addingTimeInterval(-10)) == 20)
        #expect(Schedule.manual.delay(now: now, lastRunEnded: nil) == nil)
    }
}
