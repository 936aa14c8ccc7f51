import ConnectorKit
import Foundation
import Parquet
import Testing
import TestSupport

/// The archive job against the real PostgreSQL: 100 days of day partitions; the 69 that ended 30
/// days ago or earlier are archived to Parquet, verified, recorded and dropped; under SIGKILL at many points, every row
/// ends exactly once across the Parquet files and the table.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct ArchiveEndToEndTests {
    static let rowsPerDay = TestScale.rows(2000)

    /// A schema with `press` partitioned by day over the last 100 days (and 2 ahead), filled, and
    /// an unpartitioned copy `orig` of every row.
    func setUp(_ schema: String) throws {
        _ = try PG.psql("""
            DROP SCHEMA IF EXISTS \(schema) CASCADE;
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).press (ts timestamptz NOT NULL, machine text, temperature double precision, pressure numeric(8,2),
                                          status text, count bigint, day date, ok boolean, small integer) PARTITION BY RANGE (ts);
            DO $$ DECLARE d date; BEGIN
              FOR d IN SELECT generate_series((now() AT TIME ZONE 'UTC')::date - 99, (now() AT TIME ZONE 'UTC')::date + 2, '1 day')::date LOOP
                EXECUTE format('CREATE TABLE \(schema).%I PARTITION OF \(schema).press FOR VALUES FROM (%L) TO (%L)',
                               'press_p' || to_char(d, 'YYYYMMDD'), d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
              END LOOP; END $$;
            INSERT INTO \(schema).press
              SELECT ts, CASE WHEN i % 7 = 0 THEN NULL WHEN i % 7 = 1 THEN 'Prensa nº ' || (i % 5) ELSE 'press-' || (i % 5) END,
                     (i % 4000) / 8.0, ((i % 100000) - 50000) / 100.0, CASE WHEN i % 11 = 0 THEN NULL ELSE 'OK' END, i::bigint * 7919,
                     (ts AT TIME ZONE 'UTC')::date, i % 3 = 0, CASE WHEN i % 13 = 0 THEN NULL ELSE i % 1000 END
              FROM (SELECT i, ((now() AT TIME ZONE 'UTC')::date - 99)::timestamp AT TIME ZONE 'UTC' + i * interval '1 day' / \(Self.rowsPerDay) AS ts
                    FROM generate_series(0, \(Self.rowsPerDay * 100 - 1)) AS i) AS g;
            CREATE TABLE \(schema).orig AS SELECT * FROM \(schema).press;
            """)
    }

    func write(_ dir: String, schema: String, extraJob: String = "") throws {
        try Sluice.write("""
            [pipeline]
            schedule = "every 1h"
            [source]
            type = "files"
            path = "\(dir)/in"
            [[transform]]
            type = "csv"
            [sink]
            type = "postgres"
            url = "\(PG.url)"
            password = "testpw"
            schema = "\(schema)"
            table = "press"
            partition = { column = "ts" }
            """, to: "\(dir)/conf/press.toml")
        try Sluice.write("""
            [pipeline]
            schedule = "0 3 1 */3 *"
            [job]
            type = "postgres_archive"
            pipeline = "press"
            older_than = "30d"
            path = "\(dir)/archive"
            row_group_rows = 1000
            \(extraJob)
            """, to: "\(dir)/conf/archive.toml")
    }

    static let render = """
        concat_ws('|', (extract(epoch FROM ts) * 1000000)::bigint, coalesce(machine, '∅'), coalesce(temperature::text, '∅'),
                  coalesce(pressure::text, '∅'), coalesce(status, '∅'), coalesce(count::text, '∅'), coalesce(to_char(day, 'YYYY-MM-DD'), '∅'),
                  coalesce(ok::text, '∅'), coalesce(small::text, '∅'))
        """

    /// Rows of every Parquet file under `root`, rendered as `render` renders a table's rows.
    static func archivedRows(_ root: String) throws -> [String] {
        let files = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        return try files.flatMap { name -> [String] in
            let reader = try ParquetFileReader(path: root + "/" + name)
            return try (0..<reader.rowGroupCount).flatMap { g -> [String] in
                let b = try reader.readBatch(g)
                return (0..<b.count).map { r in
                    (0..<b.schema.count).map { c -> String in
                        switch b.value(row: r, column: c) {
                        case .null: return "∅"
                        case let .timestamp(us): return String(us)
                        case let .double(d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
                        case let .date(days): return CivilDate.format(days: days)
                        case let v: return v.description
                        }
                    }.joined(separator: "|")
                }
            }
        }
    }

    func lines(_ sql: String) throws -> [String] {
        try PG.psql(sql).split(separator: "\n").map(String.init)
    }

    @Test("archives the partitions older than 30 days, verified and recorded; the Parquet equals the dropped partitions row for row")
    func archivesAndDrops() throws {
        let schema = "archive_\(UUID().uuidString.prefix(6).lowercased())"
        let dir = try Sluice.tempDir("archive")
        defer { _ = try? PG.psql("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        try setUp(schema)
        try write(dir, schema: schema)
        let args = ["once", "archive", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"]

        // A dry run lists and changes nothing.
        try write(dir, schema: schema, extraJob: "dry_run = true")
        let dry = try Sluice.run(args)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.components(separatedBy: "would archive \(Self.rowsPerDay) rows").count - 1 == 69, "\(dry.stdout.prefix(500))")
        #expect(try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).press'::regclass") == "102")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/archive"))

        try write(dir, schema: schema)
        let run = try Sluice.run(args)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).press'::regclass") == "33")
        // Partitions that ended on or before today − 30 days: the oldest left starts then.
        let oldest = try PG.psql("SELECT min(ts AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date - 30 FROM \(schema).press")
        #expect(oldest == "t")

        let manifest = try String(contentsOfFile: "\(dir)/archive/press/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(manifest.count == 69)
        let first = try JSONSerialization.jsonObject(with: Data(manifest[0].utf8)) as! [String: Any]
        #expect(first["rows"] as? Int == Self.rowsPerDay)
        #expect((first["file"] as? String)?.hasPrefix("date=") == true)
        #expect((first["sha256"] as? String)?.count == 64)
        #expect(first["key"] as? String == "ts")
        let file = "\(dir)/archive/press/" + (first["file"] as! String)
        #expect(FileManager.default.fileExists(atPath: file))

        // Row for row: the dropped partitions are exactly the archived files.
        let dropped = try lines("SELECT \(Self.render) FROM \(schema).orig WHERE ts < (now() AT TIME ZONE 'UTC')::date - 30")
        let archived = try Self.archivedRows("\(dir)/archive/press")
        #expect(dropped.count == 69 * Self.rowsPerDay)
        #expect(archived.sorted() == dropped.sorted())

        // DuckDB reads the archive as one table partitioned by `date`, and the counts match.
        if DuckDB.available || ProcessInfo.processInfo.environment["CI"] == "true" {
            let seen = try DuckDB.query("SELECT count(*), count(DISTINCT date) FROM read_parquet('\(dir)/archive/press/*/*.parquet', hive_partitioning = true)")
            #expect(seen == "\(69 * Self.rowsPerDay)|69")
        }

        // A second run has nothing left to do.
        let again = try Sluice.run(args)
        #expect(again.status == 0)
        #expect(again.stdout.contains("nothing to archive"), "\(again.stdout)")
    }

    @Test("SIGKILL at random points of the job, each followed by a rerun: every row exactly once across Parquet and PostgreSQL")
    func killedAndRerun() throws {
        let schema = "archive_\(UUID().uuidString.prefix(6).lowercased())"
        let dir = try Sluice.tempDir("archive-kill")
        defer { _ = try? PG.psql("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        try write(dir, schema: schema)
        let args = ["once", "archive", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"]
        try setUp(schema)
        let started = Date()
        #expect(try Sluice.run(args).status == 0)
        let fullRun = Date().timeIntervalSince(started)
        let kills = try Sluice.killRepeatedly(args, count: 12, maxDelay: max(0.2, fullRun / 8), timeLimit: 400) {
            try setUp(schema)
            try? FileManager.default.removeItem(atPath: "\(dir)/archive")
        }
        #expect(kills >= 12, "only \(kills) kills landed during the job")
        let final = try Sluice.run(args)
        #expect(final.status == 0, "\(final.stderr)")

        let everything = try lines("SELECT \(Self.render) FROM \(schema).orig")
        let remaining = try lines("SELECT \(Self.render) FROM \(schema).press")
        let archived = try Self.archivedRows("\(dir)/archive/press")
        #expect(remaining.count == 31 * Self.rowsPerDay)
        #expect(archived.count + remaining.count == everything.count)
        #expect((archived + remaining).sorted() == everything.sorted())
        let files = (FileManager.default.enumerator(atPath: "\(dir)/archive/press")?.allObjects as? [String] ?? [])
        #expect(files.filter { $0.hasSuffix(".parquet") }.count == 69)
        #expect(files.filter { $0.hasSuffix(".tmp") }.isEmpty)
        let manifest = try String(contentsOfFile: "\(dir)/archive/press/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(Set(manifest.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["partition"] as? String }).count == 69)
    }

    @Test("a partition that cannot be archived is kept and reported; the others are archived")
    func unarchivablePartitionIsKept() throws {
        let schema = "archive_\(UUID().uuidString.prefix(6).lowercased())"
        let dir = try Sluice.tempDir("archive-nan")
        defer { _ = try? PG.psql("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        try setUp(schema)
        try write(dir, schema: schema)
        // numeric NaN has no Parquet DECIMAL form.
        let victim = try PG.psql("SELECT 'press_p' || to_char((now() AT TIME ZONE 'UTC')::date - 50, 'YYYYMMDD')")
        _ = try PG.psql("UPDATE \(schema).\(victim) SET pressure = 'NaN' WHERE ctid = (SELECT ctid FROM \(schema).\(victim) LIMIT 1)")
        let run = try Sluice.run(["once", "archive", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("\(schema).\(victim): FAILED:") && run.stdout.contains("NaN"), "\(run.stdout)")
        #expect(try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\(schema).press'::regclass") == "34")
        #expect(try PG.psql("SELECT count(*) FROM \(schema).\(victim)") == "\(Self.rowsPerDay)")
        let files = (FileManager.default.enumerator(atPath: "\(dir)/archive/press")?.allObjects as? [String] ?? [])
        #expect(files.filter { $0.hasSuffix(".parquet") }.count == 68)
        #expect(!files.contains { $0.contains(victim) })
    }
}
