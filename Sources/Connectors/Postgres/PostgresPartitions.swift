import ConnectorKit
import CoreConnectors

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

    /// `CREATE TABLE IF NOT EXISTS … PARTITION OF …` for the interval beginning at `start`; bounds
    /// are UTC midnights (as `timestamptz` when the partition column is a timestamp).
    func createStatement(schema: String, table: String, start: Int, timestampColumn: Bool) -> String {
        let from = CivilDate.format(days: Int32(start)), to = CivilDate.format(days: Int32(end(ofStart: start)))
        let bound = { (d: String) in SQL.literal(timestampColumn ? d + " 00:00:00+00" : d) }
        return "CREATE TABLE IF NOT EXISTS \(SQL.qualified(schema, name(table: table, start: start))) PARTITION OF \(SQL.qualified(schema, table)) "
            + "FOR VALUES FROM (\(bound(from))) TO (\(bound(to)))"
    }

    /// The interval starts from today's through `premake` intervals ahead.
    func startsAhead(today: Int, premake: Int) -> [Int] {
        var out = [start(ofDay: today)]
        for _ in 0..<max(0, premake) { out.append(next(after: out[out.count - 1])) }
        return out
    }

    /// `rows` (none NULL in `column`) grouped by the start of their interval, in the order each
    /// start first appears. Lines come in time order, so a batch is nearly always one day: that
    /// is checked without allocating, and the rows then go on as they are.
    func grouped(_ column: Column, _ rows: [Int]) -> [(start: Int, rows: [Int])] {
        switch column.values {
        case let .date(a):
            return a.withUnsafeBufferPointer { v in grouped(rows) { Int(v[$0]) } }
        case let .timestamp(a):
            return a.withUnsafeBufferPointer { v in grouped(rows) { Int(CivilDate.day(ofMicros: v[$0])) } }
        default:
            return []
        }
    }

    @inline(__always)
    private func grouped(_ rows: [Int], day: (Int) -> Int) -> [(start: Int, rows: [Int])] {
        guard let first = rows.first else { return [] }
        let firstDay = day(first)
        let sameDay = rows.withUnsafeBufferPointer { rs in
            var k = 1
            while k < rs.count && day(rs[k]) == firstDay { k &+= 1 }
            return k == rs.count
        }
        if sameDay { return [(start(ofDay: firstDay), rows)] }
        var out: [(start: Int, rows: [Int])] = []
        var lastDay = Int.min, group = 0
        for r in rows {
            let d = day(r)
            if d != lastDay {
                lastDay = d
                let start = start(ofDay: d)
                if let i = out.firstIndex(where: { $0.start == start }) { group = i } else {
                    out.append((start, []))
                    group = out.count - 1
                }
            }
            out[group].rows.append(r)
        }
        return out
    }

    private func format2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private func format4(_ v: Int) -> String { String(repeating: "0", count: max(0, 4 - String(v).count)) + String(v) }
}
