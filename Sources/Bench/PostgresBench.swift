import Foundation

/// `bench postgres`: the same simulator CSV loaded by `sluice once` (plain and day-partitioned
/// tables) and by the reference tools in the same run: `psql \copy … CSV HEADER` into identical
/// tables, `\copy … (FORMAT binary)` of the same rows already encoded (the ceiling: the server
/// parses no text), and pandas `to_sql` when a Python with pandas is available.
struct PostgresBenchmark {
    var file: String
    var rows: Int
    /// Without a password; `password` is passed as PGPASSWORD / password_file.
    var url: String
    var password: String
    var sluice: String
    var python: String?
    var runs: Int
    let schema = "sluice_bench"
    let work = NSTemporaryDirectory() + "sluice-bench-pg-\(UUID().uuidString.prefix(8))"

    static let columns = """
        "timestamp" timestamp with time zone NOT NULL, machine text, temperature double precision, pressure numeric(8,2), status text, "count" bigint
        """

    @discardableResult
    func psql(_ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        p.arguments = [url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
        p.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("psql: \(String(decoding: e, as: UTF8.self))") }
        return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Times one `psql -c` (a `\copy`) as a child process.
    func timedPSQL(_ command: String) throws -> ChildRun {
        try psql("CHECKPOINT")
        let r = try spawnMeasured("/usr/bin/psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command], environment: ["PGPASSWORD": password])
        guard r.status == 0 else { throw BenchError("psql \(command): \(r.stderr)") }
        return r
    }

    func count(_ table: String) throws -> Int { Int(try psql("SELECT count(*) FROM \(schema).\(table)")) ?? -1 }

    func expectRows(_ table: String) throws {
        let n = try count(table)
        guard n == rows else { throw BenchError("\(schema).\(table) holds \(n) rows, expected \(rows)") }
    }

    /// A pipeline file for `sluice once`, loading the benchmark file into `table`.
    func pipeline(_ name: String, table: String, partition: String?, sinkExtra: String = "") throws -> String {
        let conf = "\(work)/\(name)"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try (simulatorPipeline(name: name, file: file) + """
            [sink]
            type = "postgres"
            url = "\(url)"
            password_file = "\(work)/pgpass"
            schema = "\(schema)"
            table = "\(table)"
            \(partition.map { "partition = { column = \"timestamp\", interval = \"day\", premake = 0\($0) }" } ?? "")
            \(sinkExtra)
            """).write(toFile: "\(conf)/\(name).toml", atomically: true, encoding: .utf8)
        return conf
    }

    /// One way of loading the file, timed as a process; `reset` (untimed) empties its table first.
    struct Side {
        var label: String
        var table: String
        var note: String
        var reset: () throws -> Void
        var run: () throws -> ChildRun
    }

    /// `sluice once` into `table`. Before each run the checkpoint is deleted and the table emptied
    /// (`keepTable`: as a daemon finds it, with its partitions, made by an untimed first load) or
    /// dropped (the run creates it, and its partitions during the load).
    func sluiceSide(_ label: String, name: String, table: String, partition: String?, sinkExtra: String = "", keepTable: Bool, note: String) throws -> Side {
        let conf = try pipeline(name, table: table, partition: partition, sinkExtra: sinkExtra)
        let run = {
            let r = try spawnMeasured(sluice, ["once", name, "--config-dir", conf, "--state-dir", "\(work)/state-\(name)", "--no-progress"])
            guard r.status == 0 else { throw BenchError("sluice once \(name): \(r.stderr)") }
            return r
        }
        let forget = forgetCheckpointsSQL(where: "pipeline = '\(name)'")
        if keepTable {
            try psql("DROP TABLE IF EXISTS \(schema).\(table) CASCADE; " + forget)
            _ = try run()
        }
        return Side(label: label, table: table, note: note, reset: {
            try psql((keepTable ? "TRUNCATE \(schema).\(table); " : "DROP TABLE IF EXISTS \(schema).\(table) CASCADE; ") + forget)
            try? FileManager.default.removeItem(atPath: "\(work)/state-\(name)")
        }, run: {
            let r = try spawnMeasured(sluice, ["once", name, "--config-dir", conf, "--state-dir", "\(work)/state-\(name)", "--no-progress"])
            guard r.status == 0 else { throw BenchError("sluice once \(name): \(r.stderr)") }
            return r
        })
    }

    func psqlSide(_ label: String, table: String, command: String, note: String) -> Side {
        Side(label: label, table: table, note: note, reset: { try psql("TRUNCATE \(schema).\(table)") }, run: { try timedPSQL(command) })
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try "\(password)\n".write(toFile: "\(work)/pgpass", atomically: true, encoding: .utf8)
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        // Same start for everyone: the file in the page cache.
        _ = try spawnMeasured("/bin/cat", [file])
        _ = try psql("""
            CREATE TABLE IF NOT EXISTS public.sluice_checkpoints (pipeline text PRIMARY KEY, checkpoint jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
            DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).psql_plain (\(Self.columns));
            CREATE TABLE \(schema).psql_parted (\(Self.columns)) PARTITION BY RANGE ("timestamp");
            CREATE TABLE \(schema).binary_plain (\(Self.columns));
            CREATE TABLE \(schema).binary_parted (\(Self.columns)) PARTITION BY RANGE ("timestamp");
            CREATE TABLE \(schema).pandas_plain (\(Self.columns));
            """)
        // psql cannot make partitions: they are made beforehand, untimed, from the file's days;
        // and the binary ceiling's input is psql's own binary COPY of the rows.
        _ = try timedPSQL("\\copy \(schema).psql_plain FROM '\(file)' CSV HEADER")
        try expectRows("psql_plain")
        for table in ["psql_parted", "binary_parted"] {
            _ = try psql(try psql("""
                SELECT string_agg(format('CREATE TABLE \(schema).\(table)_%s PARTITION OF \(schema).\(table) FOR VALUES FROM (%L) TO (%L);',
                       to_char(d, 'YYYYMMDD'), d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00'), ' ')
                FROM (SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS d FROM \(schema).psql_plain) x
                """))
        }
        let partitions = try psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).psql_parted'::regclass")
        let binFile = "\(work)/rows.bin"
        _ = try psql("\\copy \(schema).psql_plain TO '\(binFile)' (FORMAT binary)")

        var sides = [
            psqlSide("psql `\\copy` CSV → plain table", table: "psql_plain", command: "\\copy \(schema).psql_plain FROM '\(file)' CSV HEADER", note: ""),
            try sluiceSide("**sluice once → plain table**", name: "bench_plain", table: "sluice_plain", partition: nil, keepTable: false,
                           note: "table created by the run"),
            psqlSide("psql `\\copy` CSV → partitioned", table: "psql_parted", command: "\\copy \(schema).psql_parted FROM '\(file)' CSV HEADER",
                     note: "\(partitions) partitions made beforehand"),
            try sluiceSide("**sluice once → partitioned**", name: "bench_parted", table: "sluice_parted", partition: "", keepTable: true,
                           note: "rows copied into their partitions; the \(partitions) partitions exist (an untimed first load made them)"),
            try sluiceSide("**sluice once → partitioned, `streams = 2`**", name: "bench_parted2", table: "sluice_parted2", partition: "", sinkExtra: "streams = 2",
                           keepTable: true, note: "the same, every other batch over a second connection (committed together by a prepared transaction)"),
            try sluiceSide("sluice once → plain table, `streams = 2`", name: "bench_plain2", table: "sluice_plain2", partition: nil, sinkExtra: "streams = 2",
                           keepTable: true, note: "the table exists (an untimed first load made it), every other batch over a second connection"),
            try sluiceSide("sluice once → partitioned, `direct = false`", name: "bench_parent", table: "sluice_parent", partition: ", direct = false",
                           keepTable: true, note: "rows copied into the parent (the server routes them); partitions exist"),
            try sluiceSide("sluice once → partitioned, new table", name: "bench_new", table: "sluice_new", partition: "", keepTable: false,
                           note: "table and \(partitions) partitions made during the load (DDL in the loading transaction)"),
            psqlSide("psql `\\copy` binary → plain (ceiling)", table: "binary_plain", command: "\\copy \(schema).binary_plain FROM '\(binFile)' (FORMAT binary)",
                     note: "rows already encoded: the server parses no text"),
            psqlSide("psql `\\copy` binary → partitioned (ceiling)", table: "binary_parted",
                     command: "\\copy \(schema).binary_parted FROM '\(binFile)' (FORMAT binary)",
                     note: "the same, into the premade partitions (the server routes each row)"),
        ]
        if let python {
            let script = """
                import sys, pandas as pd, sqlalchemy
                df = pd.read_csv(sys.argv[1], parse_dates=["timestamp"])
                engine = sqlalchemy.create_engine(sys.argv[2])
                df.to_sql("pandas_plain", engine, schema="\(schema)", if_exists="append", index=False, method="multi", chunksize=5000)
                """
            let sqlURL = url.replacingOccurrences(of: "postgresql://", with: "postgresql+psycopg2://").replacingOccurrences(of: "?sslmode=disable", with: "")
            sides.append(Side(label: "pandas `read_csv` + `to_sql`", table: "pandas_plain", note: "method=multi, chunksize=5000",
                              reset: { try psql("TRUNCATE \(schema).pandas_plain") }, run: {
                try psql("CHECKPOINT")
                let r = try spawnMeasured(python, ["-c", script, file, sqlURL], environment: ["PGPASSWORD": password])
                guard r.status == 0 else { throw BenchError("pandas: exit \(r.status): \(r.stderr.suffix(400))") }
                return r
            }))
        }

        // Rounds: every side once per round, in the same order (A B C … A B C …).
        var results = [[ChildRun]](repeating: [], count: sides.count)
        let checksum = "SELECT md5(string_agg(concat_ws('|', \"timestamp\", machine, temperature, pressure, status, \"count\"), ',' ORDER BY \"timestamp\")) FROM \(schema)."
        var reference: String?
        for round in 0..<runs {
            for (i, side) in sides.enumerated() {
                try side.reset()
                try psql("CHECKPOINT")
                results[i].append(try side.run())
                try expectRows(side.table)
                // The rows must be the same rows (checked in the first round; the loads do not change).
                if round == 0 {
                    let sum = try psql(checksum + side.table)
                    if reference == nil { reference = sum } else if sum != reference { throw BenchError("\(schema).\(side.table) differs from psql's load") }
                }
            }
        }

        let median = ParquetBenchmark.median
        let date = ISO8601DateFormatter().string(from: Date())
        print("### bench postgres — \(date)\n")
        print("`swift run -c release bench postgres --rows \(rows) --runs \(runs)`: \(rows) simulator rows, \(String(format: "%.1f", Double(size) / 1e6)) MB CSV, "
              + "PostgreSQL on the same machine. Each load is one process timed end to end (Sluice: `sluice once`, start-up, table creation, "
              + "checkpoint and commit included); the sides run in turn, \(runs) rounds; medians. CPU is the loading process's user + system "
              + "time (the server's is not in it). The tables hold the same rows (md5 over every column).\n")
        print("| load | seconds | rows/s | CPU seconds | peak RSS MiB | note |")
        print("|---|---:|---:|---:|---:|---|")
        for (i, side) in sides.enumerated() {
            let t = median(results[i].map(\.seconds))
            print("| \(side.label) | \(String(format: "%.3f", t)) | \(String(format: "%.0f", Double(rows) / t)) | \(String(format: "%.3f", median(results[i].map(\.cpuSeconds)))) | "
                  + "\(String(format: "%.1f", results[i].map(\.peakRSSMiB).max() ?? 0)) | \(side.note) |")
        }
        func index(_ table: String) -> Int? { sides.firstIndex { $0.table == table } }
        print("\n| ratio | speed: their seconds ÷ Sluice's, median of the rounds (> 1 = Sluice faster) | target |")
        print("|---|---:|---|")
        func ratio(_ ours: String, _ theirs: String, _ label: String, _ target: String) {
            guard let o = index(ours), let t = index(theirs) else { return }
            let r = zip(results[t], results[o]).map { $0.seconds / $1.seconds }
            print("| \(label) | \(String(format: "%.2f×", median(r))) | \(target) |")
        }
        ratio("sluice_plain", "psql_plain", "Sluice → plain vs psql `\\copy` CSV → plain", "≥ 1.45×")
        ratio("sluice_parted", "psql_parted", "Sluice → partitioned vs psql `\\copy` CSV → premade partitions", "≥ 1.45×")
        ratio("sluice_parent", "psql_parted", "Sluice → partitioned through the parent vs psql `\\copy` CSV → premade partitions", "")
        ratio("sluice_new", "psql_parted", "Sluice → partitioned, new table, vs psql `\\copy` CSV → premade partitions", "")
        ratio("sluice_plain", "binary_plain", "Sluice → plain vs the binary `\\copy` ceiling", "≥ 0.9×")
        ratio("sluice_parted", "binary_plain", "Sluice → partitioned (one stream) vs the binary `\\copy` ceiling", "")
        ratio("sluice_parted2", "binary_plain", "Sluice → partitioned, `streams = 2`, vs the binary `\\copy` ceiling", "≥ 0.9×")
        ratio("sluice_parted", "binary_parted", "Sluice → partitioned vs the binary `\\copy` into premade partitions (like for like)", "")
        ratio("sluice_parted2", "sluice_parted", "Sluice → partitioned, `streams = 2` vs one stream", "")
        ratio("sluice_plain2", "binary_plain", "Sluice → plain, `streams = 2`, vs the binary `\\copy` ceiling", "")
        if python != nil {
            ratio("sluice_plain", "pandas_plain", "Sluice → plain vs pandas `to_sql`", "≥ 30×")
        } else {
            print("\npandas `to_sql`: not measured (no Python with pandas, SQLAlchemy and psycopg2: run scripts/py-env.sh)")
        }
        let peak = [index("sluice_plain"), index("sluice_parted"), index("sluice_parted2"), index("sluice_plain2"), index("sluice_parent"), index("sluice_new")].compactMap { $0 }.flatMap { results[$0].map(\.peakRSSMiB) }.max() ?? 0
        print("\nSluice's highest peak RSS over every run: \(String(format: "%.1f", peak)) MiB (target ≤ 64 MiB).")
        _ = try? psql("DROP SCHEMA \(schema) CASCADE; DELETE FROM public.sluice_checkpoints WHERE pipeline LIKE 'bench\\_%'")
    }
}
