import ConnectorKit
import Foundation
import MachineSimulator
import Parquet
import Testing
import TestSupport

/// `sluice once` into a Parquet lake, SIGKILLed at random points: the lake ends with every source
/// row exactly once, every column intact, in the right day folder, and no temporary file.
@Suite(.blockingWork, .serialized) struct ParquetEndToEndTests {
    static let rows = TestScale.rows(300_000)

    func setUp(_ name: String, rows: Int) throws -> String {
        let dir = try Sluice.tempDir(name)
        let sim = MachineSimulator(style: .linux, seed: 11)
        try sim.write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try Sluice.write("""
            [pipeline]
            name = "lake"
            schedule = "every 1m"
            commit_rows = 20000
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
            [sink]
            type = "parquet"
            path = "\(dir)/lake"
            table = "press"
            partition_by = "timestamp"
            sort = true
            row_group_rows = 8000
            """, to: "\(dir)/conf/lake.toml")
        return dir
    }

    /// A row as text, the same from the CSV and from the files: timestamp, machine, temperature,
    /// pressure, status, count (numbers by value, NULL as empty).
    static func canonical(_ f: [String]) -> String {
        [f[0], f[1], Double(f[2]).map { "\($0)" } ?? "", Double(f[3]).map { "\($0)" } ?? "", f[4], f[5]].joined(separator: "|")
    }

    static func lakeRows(_ root: String) throws -> (rows: [String], misplaced: Int) {
        var out: [String] = []
        var misplaced = 0
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        for name in names {
            let folder = (name as NSString).deletingLastPathComponent
            let reader = try ParquetFileReader(path: root + "/" + name)
            for g in 0..<reader.rowGroupCount {
                let batch = try reader.readBatch(g)
                for r in 0..<batch.count {
                    let fields = (0..<6).map { c -> String in
                        let v = batch.value(row: r, column: c)
                        if case .null = v { return "" }
                        if case let .timestamp(us) = v { return CivilDate.formatTimestamp(micros: us).replacingOccurrences(of: ".000000Z", with: "Z") }
                        return v.description
                    }
                    if folder != "date=" + fields[0].prefix(10) { misplaced += 1 }
                    out.append(canonical(fields))
                }
            }
        }
        return (out, misplaced)
    }

    @Test func sigkillAtRandomPointsWritesEveryRowOnce() throws {
        let dir = try setUp("parquet-kill", rows: Self.rows)
        let args = ["once", "lake", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]
        let started = Date()
        #expect(try Sluice.run(args).status == 0)
        let fullRun = Date().timeIntervalSince(started)
        let kills = try Sluice.killRepeatedly(args, count: 15, maxDelay: max(0.1, fullRun / 10), timeLimit: 300) {
            try? FileManager.default.removeItem(atPath: "\(dir)/state")
            try? FileManager.default.removeItem(atPath: "\(dir)/lake")
        }
        #expect(kills >= 15, "only \(kills) kills landed during the load")
        let final = try Sluice.run(args)
        #expect(final.status == 0, "\(final.stderr)")

        let (lake, misplaced) = try Self.lakeRows("\(dir)/lake/press")
        let source = Sluice.lines("\(dir)/in/line-01/data.csv").dropFirst().map { Self.canonical($0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)) }
        #expect(source.count == Self.rows)
        #expect(lake.count == Self.rows)
        #expect(misplaced == 0, "\(misplaced) rows in another day's folder")
        if lake.sorted() != source.sorted() {
            let missing = Set(source).subtracting(lake).count, extra = Set(lake).subtracting(source).count
            Issue.record("the lake differs from the source: \(missing) source rows missing, \(extra) rows not in the source, \(lake.count - Set(lake).count) repeated")
        }
        let temporary = (FileManager.default.enumerator(atPath: "\(dir)/lake")?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".tmp") }
        #expect(temporary.isEmpty)

        // DuckDB reads the lake as one table partitioned by `date`: every row, each in its day.
        if DuckDB.available || ProcessInfo.processInfo.environment["CI"] == "true" {
            let seen = try DuckDB.query("""
                SELECT count(*), count(*) FILTER (WHERE CAST(date AS VARCHAR) <> strftime(timezone('UTC', "timestamp"), '%Y-%m-%d')),
                       sum("count"), count(DISTINCT machine) FROM read_parquet('\(dir)/lake/press/*/*.parquet', hive_partitioning = true)
                """)
            let sourceSum = Sluice.lines("\(dir)/in/line-01/data.csv").dropFirst().reduce(Int64(0)) { $0 + (Int64($1.split(separator: ",").last!) ?? 0) }
            #expect(seen == "\(Self.rows)|0|\(sourceSum)|1", "\(seen)")
        }
    }
}
