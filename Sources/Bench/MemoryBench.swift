import Foundation

/// `bench memory`: Sluice's peak RSS loading ever larger simulator files into PostgreSQL, a plain
/// table and a day-partitioned one made during the load, with `psql \copy` of the same file for
/// scale. The target (peak RSS ≤ 64 MiB whatever the file size) is about the trend as much as the
/// figure: memory must not grow with the file, so the sizes span 16× by default.
struct MemoryBenchmark {
    /// Row counts and their simulator files, smallest first.
    var files: [(rows: Int, path: String)]
    var url: String
    var password: String
    var sluice: String
    var runs: Int

    struct Load {
        var rows: Int
        var megabytes: Double
        var label: String
        var sluice: Bool
        var results: [ChildRun]
    }

    func run() throws {
        var loads: [Load] = []
        for (rows, path) in files {
            // A PostgresBenchmark per file for its pipeline files, psql and table handling.
            let pg = PostgresBenchmark(file: path, rows: rows, url: url, password: password, sluice: sluice, python: nil, runs: runs)
            try FileManager.default.createDirectory(atPath: pg.work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: pg.work) }
            try "\(password)\n".write(toFile: "\(pg.work)/pgpass", atomically: true, encoding: .utf8)
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            _ = try spawnMeasured("/bin/cat", [path])
            try pg.psql("""
                CREATE TABLE IF NOT EXISTS public.sluice_checkpoints (pipeline text PRIMARY KEY, checkpoint jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
                DROP SCHEMA IF EXISTS \(pg.schema) CASCADE; CREATE SCHEMA \(pg.schema);
                CREATE TABLE \(pg.schema).psql_plain (\(PostgresBenchmark.columns));
                """)
            let sides = [
                pg.psqlSide("psql `\\copy` CSV → plain table", table: "psql_plain",
                            command: "\\copy \(pg.schema).psql_plain FROM '\(path)' CSV HEADER", note: ""),
                try pg.sluiceSide("**sluice once → plain table**", name: "bench_mem_plain", table: "sluice_plain", partition: nil,
                                  keepTable: false, note: ""),
                try pg.sluiceSide("**sluice once → partitioned, new table**", name: "bench_mem_parted", table: "sluice_parted", partition: "",
                                  keepTable: false, note: ""),
            ]
            var results = [[ChildRun]](repeating: [], count: sides.count)
            for _ in 0..<runs {
                for (i, side) in sides.enumerated() {
                    try side.reset()
                    try pg.psql("CHECKPOINT")
                    results[i].append(try side.run())
                    try pg.expectRows(side.table)
                }
            }
            for (i, side) in sides.enumerated() {
                loads.append(Load(rows: rows, megabytes: Double(size) / 1e6, label: side.label, sluice: i > 0, results: results[i]))
            }
            let partitions = try pg.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(pg.schema).sluice_parted'::regclass")
            loads[loads.count - 1].label += " (\(partitions) partitions)"
            _ = try? pg.psql("DROP SCHEMA \(pg.schema) CASCADE; DELETE FROM public.sluice_checkpoints WHERE pipeline LIKE 'bench\\_mem\\_%'")
        }

        let median = ParquetBenchmark.median
        let rowCounts = files.map { String($0.rows) }.joined(separator: ",")
        print("### bench memory — \(ISO8601DateFormatter().string(from: Date()))\n")
        print("`swift run -c release bench memory --rows \(rowCounts) --runs \(runs)`: simulator files of growing size loaded into PostgreSQL "
              + "on the same machine, each load one process (`sluice once`, or `psql` for scale) measured with `wait4`; \(runs) rounds per size, "
              + "the sides in turn; seconds are medians, peak RSS the highest of the rounds. Every load is checked to hold every row.\n")
        print("| rows | MB of CSV | load | seconds | peak RSS MiB |")
        print("|---:|---:|---|---:|---:|")
        for load in loads {
            print("| \(load.rows) | \(String(format: "%.1f", load.megabytes)) | \(load.label) | \(String(format: "%.3f", median(load.results.map(\.seconds)))) | "
                  + "\(String(format: "%.1f", load.results.map(\.peakRSSMiB).max() ?? 0)) |")
        }
        let ours = loads.filter(\.sluice)
        func peak(_ rows: Int) -> Double { ours.filter { $0.rows == rows }.flatMap { $0.results.map(\.peakRSSMiB) }.max() ?? 0 }
        let highest = ours.flatMap { $0.results.map(\.peakRSSMiB) }.max() ?? 0
        if let small = files.first?.rows, let large = files.last?.rows, large > small {
            print("\nSluice's peak RSS: \(String(format: "%.1f", peak(small))) MiB for \(small) rows, \(String(format: "%.1f", peak(large))) MiB for "
                  + "\(large) rows (\(large / small)× the rows: \(String(format: "%+.1f", peak(large) - peak(small))) MiB).")
        }
        print("\nSluice's highest peak RSS over every load: \(String(format: "%.1f", highest)) MiB (target ≤ 64 MiB).")
    }
}
