import ConnectorKit
import MachineSimulator
@testable import PostgresConnector
import Testing
import TestSupport

/// How the sink splits a batch's rows among partitions, against a plain reference: each row's
/// interval start, rows kept in order, groups in the order their start first appears.
@Suite struct PartitionPlanTests {
    static func reference(_ plan: PartitionPlan, days: [Int], _ rows: [Int]) -> [(start: Int, rows: [Int])] {
        var out: [(start: Int, rows: [Int])] = []
        for r in rows {
            let start = plan.start(ofDay: days[r])
            if let i = out.firstIndex(where: { $0.start == start }) { out[i].rows.append(r) } else { out.append((start, [r])) }
        }
        return out
    }

    @Test(arguments: [PostgresConfiguration.Interval.day, .week, .month])
    func rowsAreGroupedByTheirIntervalStart(interval: PostgresConfiguration.Interval) {
        let plan = PartitionPlan(interval: interval)
        var g = SplitMix64(seed: 77)
        let day: Int64 = 86_400_000_000
        for round in 0..<200 {
            let count = Int.random(in: 0...400, using: &g)
            // Mostly one day (the common batch), else a few days around a base, before 1970 too.
            let base = Int64.random(in: -30_000...30_000, using: &g)
            let spread = round % 3 == 0 ? 0 : Int64.random(in: 1...40, using: &g)
            var micros = (0..<count).map { _ in (base + Int64.random(in: 0...spread, using: &g)) * day + Int64.random(in: 0..<day, using: &g) }
            if round % 3 == 1 {
                // In time order across a midnight, with as few as one row after it.
                let after = Int.random(in: 0...min(count, 3), using: &g)
                micros = (0..<count).map { i in base * day + (i < count - after ? day - 1 - Int64(count - i) : day + Int64(i)) }
            }
            let days = micros.map { Int(($0 - ($0 < 0 ? day - 1 : 0)) / day) }
            let rows = round % 3 == 1 ? Array(0..<count) : (0..<count).filter { _ in Int.random(in: 0..<10, using: &g) != 0 }
            let expected = Self.reference(plan, days: days, rows)
            let fromTimestamps = plan.grouped(Column(.timestamp(micros)), rows)
            let fromDates = plan.grouped(Column(.date(days.map { Int32($0) })), rows)
            for got in [fromTimestamps, fromDates] {
                #expect(got.map(\.start) == expected.map(\.start), "round \(round)")
                #expect(got.map(\.rows) == expected.map(\.rows), "round \(round)")
            }
        }
    }
}
