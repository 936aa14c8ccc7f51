import ConnectorKit

/// Range partitions by day, week (from Monday) or month, named `<table>_pYYYYMMDD`, with bounds in UTC.
struct PartitionPlan: Sendable {
    let interval: PostgresConfiguration.Interval

    /// The start (days since 1970-01-01) of the interval that holds `day`.
    func start(ofDay day: Int) -> Int {
        switch interval {
        case .day: return day
        case .week:
            let weekday = ((day % 7) + 7 + 3) % 7 // 1970-01-01 was a Thursday; 0 = Monday
            return day - weekday
        case .month:
            let (y, m, _) = CivilDate.civil(days: day)
            return CivilDate.days(year: y, month: m, day: 1)
        }
    }

    func end(ofStart start: Int) -> Int {
        switch interval {
        case .day: return start + 1
        case .week: return start + 7
        case .month:
            let (y, m, _) = CivilDate.civil(days: start)
            return m == 12 ? CivilDate.days(year: y + 1, month: 1, day: 1) : CivilDate.days(year: y, month: m + 1, day: 1)
        }
    }

    func next(after start: Int) -> Int { end(ofStart: start) }

    func name(table: String, start: Int) -> String {
        let (y, m, d) = CivilDate.civil(days: start)
        let stamp = interval == .month ? String(format4(y)) + format2(m) : String(format4(y)) + format2(m) + format2(d)
        return "\(table)_p\(stamp)"
    }

    /// The distinct interval starts of a date or timestamp column's non-null values.
    func starts(of column: Column) -> Set<Int> {
        var out = Set<Int>()
        var lastDay = Int.min
        switch column.values {
        case let .date(a):
            for (i, d) in a.enumerated() where !column.isNull(i) && Int(d) != lastDay { lastDay = Int(d); out.insert(start(ofDay: lastDay)) }
        case let .timestamp(a):
            for (i, t) in a.enumerated() where !column.isNull(i) {
                let day = Int(t >= 0 ? t / 86_400_000_000 : (t - 86_399_999_999) / 86_400_000_000)
                if day != lastDay { lastDay = day; out.insert(start(ofDay: day)) }
            }
        default: break
        }
        return out
    }

    private func format2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private func format4(_ v: Int) -> String { String(repeating: "0", count: max(0, 4 - String(v).count)) + String(v) }
}
