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
    let schema = "sluice_bench"
    let work = NSTemporaryDirectory() + "sluice-bench-pg-\(UUID().uuidString.prefix(8))"

    static let columns = """
        "timestamp" timestamp with time zone NOT NULL, machine text, temperature double precision, pressure numeric(8,2), status text, "count" bigint
        """

    struct Row { var label: String; var run: ChildRun; var note: String = "" }

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
    func pipeline(_ name: String, table: String, partitioned: Bool) throws -> String {
        let conf = "\(work)/\(name)"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try (simulatorPipeline(name: name, file: file) + """
            [sink]
            type = "postgres"
            url = "\(url)"
            password_file = "\(work)/pgpass"
            schema = "\(schema)"
            table = "\(table)"
            \(partitioned ? "partition = { column = \"timestamp\", interval = \"day\", premake = 0 }" : "")
            """).write(toFile: "\(conf)/\(name).toml", atomically: true, encoding: .utf8)
        return conf
    }

    func timedSluice(_ name: String, table: String, partitioned: Bool) throws -> ChildRun {
        let conf = try pipeline(name, table: table, partitioned: partitioned)
        _ = try psql("DELETE FROM public.sluice_checkpoints WHERE pipeline = '\(name)'")
        try psql("CHECKPOINT")
        let r = try spawnMeasured(sluice, ["once", name, "--config-dir", conf, "--state-dir", "\(work)/state-\(name)", "--no-progress"])
        guard r.status == 0 else { throw BenchError("sluice once \(name): \(r.stderr)") }
        return r
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
            """)
        var results: [Row] = []

        let psqlPlain = try timedPSQL("\\copy \(schema).psql_plain FROM '\(file)' CSV HEADER")
        try expectRows("psql_plain")
        results.append(Row(label: "psql \\copy CSV → plain table", run: psqlPlain))

        // psql cannot make partitions: they are made beforehand, untimed.
        let days = try psql("""
            SELECT string_agg(format('CREATE TABLE \(schema).psql_parted_%s PARTITION OF \(schema).psql_parted FOR VALUES FROM (%L) TO (%L);',
                   to_char(d, 'YYYYMMDD'), d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00'), ' ')
            FROM (SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS d FROM \(schema).psql_plain) x
            """)
        _ = try psql(days)
        let psqlParted = try timedPSQL("\\copy \(schema).psql_parted FROM '\(file)' CSV HEADER")
        try expectRows("psql_parted")
        let partitions = try psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).psql_parted'::regclass")
        results.append(Row(label: "psql \\copy CSV → partitioned", run: psqlParted, note: "\(partitions) partitions made beforehand"))

        let binFile = "\(work)/rows.bin"
        _ = try psql("\\copy \(schema).psql_plain TO '\(binFile)' (FORMAT binary)")
        let binary = try timedPSQL("\\copy \(schema).binary_plain FROM '\(binFile)' (FORMAT binary)")
        try expectRows("binary_plain")
        results.append(Row(label: "psql \\copy binary (ceiling)", run: binary, note: "rows already encoded"))

        let sluicePlain = try timedSluice("bench_plain", table: "sluice_plain", partitioned: false)
        try expectRows("sluice_plain")
        results.append(Row(label: "sluice once → plain table", run: sluicePlain))

        let sluiceParted = try timedSluice("bench_parted", table: "sluice_parted", partitioned: true)
        try expectRows("sluice_parted")
        let made = try psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).sluice_parted'::regclass")
        results.append(Row(label: "sluice once → partitioned", run: sluiceParted, note: "\(made) partitions made during the load"))

        // The rows must be the same rows.
        let checksum = "SELECT md5(string_agg(concat_ws('|', \"timestamp\", machine, temperature, pressure, status, \"count\"), ',' ORDER BY \"timestamp\")) FROM \(schema)."
        let reference = try psql(checksum + "psql_plain")
        for t in ["sluice_plain", "sluice_parted", "binary_plain"] where try psql(checksum + t) != reference {
            throw BenchError("\(schema).\(t) differs from psql's load")
        }

        if let python {
            _ = try psql("CREATE TABLE \(schema).pandas_plain (\(Self.columns))")
            let script = """
                import sys, pandas as pd, sqlalchemy
                df = pd.read_csv(sys.argv[1], parse_dates=["timestamp"])
                engine = sqlalchemy.create_engine(sys.argv[2])
                df.to_sql("pandas_plain", engine, schema="\(schema)", if_exists="append", index=False, method="multi", chunksize=5000)
                """
            let sqlURL = url.replacingOccurrences(of: "postgresql://", with: "postgresql+psycopg2://").replacingOccurrences(of: "?sslmode=disable", with: "")
            try psql("CHECKPOINT")
            let r = try spawnMeasured(python, ["-c", script, file, sqlURL], environment: ["PGPASSWORD": password])
            if r.status == 0, (try? count("pandas_plain")) == rows {
                results.append(Row(label: "pandas read_csv + to_sql", run: r, note: "method=multi, chunksize=5000"))
            } else {
                print("pandas run failed (status \(r.status)): \(r.stderr.suffix(400))")
            }
        }

        print("PostgreSQL load benchmark: \(rows) rows, \(String(format: "%.1f", Double(size) / 1e6)) MB CSV (\(file))")
        print("  each load is one process, timed end to end (start, read, parse, cast, load, commit)")
        for r in results {
            let label = r.label.padding(toLength: 32, withPad: " ", startingAt: 0)
            print("  \(label) \(String(format: "%7.3f", r.run.seconds)) s  \(String(format: "%10.0f", Double(rows) / r.run.seconds)) rows/s  peak RSS \(String(format: "%6.1f", r.run.peakRSSMiB)) MiB  \(r.note)")
        }
        func ratio(_ a: ChildRun, _ b: ChildRun) -> String { String(format: "%.2f×", b.seconds / a.seconds) }
        print("  Sluice ÷ psql CSV \\copy (speed): plain \(ratio(sluicePlain, psqlPlain)), partitioned \(ratio(sluiceParted, psqlParted))  (target ≥ 1.0×)")
        print("  Sluice ÷ binary \\copy ceiling:   plain \(ratio(sluicePlain, binary)); psql CSV ÷ ceiling \(ratio(psqlPlain, binary))")
        if let pandas = results.first(where: { $0.label.hasPrefix("pandas") }) {
            print("  Sluice ÷ pandas to_sql:           plain \(ratio(sluicePlain, pandas.run))")
        } else {
            print("  pandas to_sql: not measured (set SLUICE_BENCH_PYTHON to a python with pandas, sqlalchemy and psycopg2)")
        }
        print("  Sluice peak RSS: plain \(String(format: "%.1f", sluicePlain.peakRSSMiB)) MiB, partitioned \(String(format: "%.1f", sluiceParted.peakRSSMiB)) MiB  (target ≤ 64 MiB)")
        _ = try? psql("DROP SCHEMA \(schema) CASCADE; DELETE FROM public.sluice_checkpoints WHERE pipeline LIKE 'bench\\_%'")
    }
}
