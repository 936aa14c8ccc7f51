import ConnectorKit
import Foundation
import MachineSimulator
import Testing
import TestSupport

/// The throwaway server of scripts/pg-start.sh, reached through psql. Locally skipped when no
/// server answers; under CI (`CI=true`) always run, so a missing server fails.
enum PG {
    static let port = ProcessInfo.processInfo.environment["SLUICE_PG_PORT"] ?? "55432"
    static let url = url(port: port)
    static func url(port: String) -> String { "postgresql://postgres@127.0.0.1:\(port)/postgres" }
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available: Bool = (try? psql("SELECT 1")) == "1"
    static let enabled = available || required

    static func psql(_ sql: String, database: String = "postgres", file: String? = nil, port: String = port) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        let target = String(url(port: port).dropLast("postgres".count)) + database
        p.arguments = [target, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + (file.map { ["-f", $0] } ?? ["-c", sql])
        var env = ProcessInfo.processInfo.environment
        env["PGPASSWORD"] = "testpw"
        env["PGCONNECT_TIMEOUT"] = "3"
        p.environment = env
        let out = ProcessLaunch.pipe(), err = ProcessLaunch.pipe()
        p.standardOutput = out
        p.standardError = err
        try ProcessLaunch.run(p)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = p.waitForEnd()
        guard status == 0 else { throw PSQLError(message: errors) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct PSQLError: Error, CustomStringConvertible { var message: String; var description: String { "psql: \(message)" } }

    /// Runs one of scripts/pg-*.sh; `server` picks another throwaway cluster (port, data directory).
    @discardableResult
    static func script(_ name: String, _ args: [String] = [], server: (port: String, dir: String)? = nil, options: String? = nil) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["\(Sluice.root)/scripts/\(name)"] + args
        var env = ProcessInfo.processInfo.environment
        if let server {
            env["SLUICE_PG_PORT"] = server.port
            env["SLUICE_PG_DIR"] = server.dir
        }
        if let options { env["SLUICE_PG_OPTS"] = options }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        try ProcessLaunch.run(p)
        return p.waitForEnd()
    }
}

@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct PostgresEndToEndTests {
    /// 1M simulator rows (5 s apart: 58 days) into a day-partitioned table.
    func setUp(_ name: String, rows: Int, commitRows: Int = 20000, port: String = PG.port, extraSink: String = "") throws -> (dir: String, table: String, sum: Int64) {
        try PG.setUpLoad(name, rows: rows, commitRows: commitRows, port: port, extraSink: extraSink)
    }

    func verify(_ dir: String, _ table: String, rows: Int, sum: Int64, port: String = PG.port) throws {
        try PG.verifyLoad(table, rows: rows, sum: sum, port: port, source: "\(dir)/in/line-01/data.csv")
    }

    /// `streams = 2`: the kills also land between the second connection's PREPARE, the
    /// checkpoint's commit and the COMMIT PREPARED, and in the replays that make new partitions.
    @Test(arguments: [1, 2])
    func sigkillTwentyTimesDuringAPartitionedLoadLosesAndDuplicatesNothing(streams: Int) throws {
        let rows = TestScale.rows(1_000_000)
        let name = streams == 1 ? "kill" : "kill2"
        let (dir, table, sum) = try setUp(name, rows: rows, extraSink: "streams = \(streams)")
        defer { PG.dropLoad(table, pipeline: "pg_\(name)") }
        let args = ["once", "pg_\(name)", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]
        let kills = try Sluice.killRepeatedly(args, count: 20, maxDelay: 0.6, timeLimit: 300) {
            _ = try? PG.psql("DROP TABLE IF EXISTS \"\(table)\" CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline = 'pg_\(name)'")
        }
        #expect(kills >= 20, "only \(kills) kills landed during the load")
        #expect(try Sluice.run(args).status == 0)
        #expect(try PG.psql("SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'sluice/pg_\(name)/%'") == "0")
        try verify(dir, table, rows: rows, sum: sum)
        let partitions = try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\"\(table)\"'::regclass AND inhrelid::regclass::text LIKE '%_p2025%'")
        // 1M rows × 5 s from 2025-01-01 03:00 UTC span 58 days.
        #expect(partitions == String(Int((Double(rows - 1) * 5 + 3 * 3600) / 86400) + 1))
    }

    /// Runs on a cluster of its own: restarting the shared one would cut the other suites' loads.
    /// `crash` stops it with `-m immediate` and keeps it down 2 s; otherwise `-m fast`, back at once.
    @Test(arguments: [(true, 1), (false, 1), (true, 2)])
    func serverRestartInTheMiddleOfALoadIsRetriedWithoutLossOrDuplicates(crash: Bool, streams: Int) throws {
        let own = (port: String(Int(PG.port)! + 1), dir: "/tmp/sluice-test-pg-restart")
        #expect(try PG.script("pg-start.sh", server: own) == 0)
        defer { _ = try? PG.script("pg-stop.sh", server: own); try? FileManager.default.removeItem(atPath: own.dir) }
        let rows = TestScale.rows(1_000_000)
        let name = (crash ? "restart" : "fastrestart") + (streams == 2 ? "2" : "")
        let (dir, table, sum) = try setUp(name, rows: rows, commitRows: TestScale.rows(5000), port: own.port, extraSink: "streams = \(streams)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (p, out, err) = try Sluice.start(["once", "pg_\(name)", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        let collected = Sluice.collect(out, err)
        // Wait for the first committed transaction (its checkpoint row: polling the partitioned
        // table itself would wait on the load's partition locks), then restart the server.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, p.isAlive, (try? PG.psql("SELECT count(*) FROM sluice_checkpoints WHERE pipeline = 'pg_\(name)'", port: own.port)) != "1" {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(p.isAlive, "the load finished before the restart")
        #expect(try PG.script("pg-restart.sh", crash ? ["2", "immediate"] : ["0", "fast"], server: own) == 0)
        let r = Sluice.finish(p, collected, timeLimit: 180)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("after a lost connection"))
        #expect(r.stdout.contains("\(rows) records written"), "\(r.stdout)")
        #expect(r.stderr.contains("retrying in"))
        try verify(dir, table, rows: rows, sum: sum, port: own.port)
    }

    /// The server is down when the load starts and comes up 2 s later: the connection attempts
    /// are retried (counted in the summary, logged) and the load completes exactly once.
    @Test func serverDownAtStartAndUpTwoSecondsLater() throws {
        let own = (port: String(Int(PG.port)! + 1), dir: "/tmp/sluice-test-pg-restart")
        #expect(try PG.script("pg-start.sh", server: own) == 0)
        defer { _ = try? PG.script("pg-stop.sh", server: own); try? FileManager.default.removeItem(atPath: own.dir) }
        let rows = TestScale.rows(100_000)
        let (dir, table, sum) = try setUp("late", rows: rows, port: own.port)
        defer { PG.dropLoad(table, pipeline: "pg_late", port: own.port) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try PG.script("pg-stop.sh", server: own) == 0)
        let (p, out, err) = try Sluice.start(["once", "pg_late", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        let collected = Sluice.collect(out, err)
        Thread.sleep(forTimeInterval: 2)
        #expect(p.isAlive, "sluice gave up before the server came up")
        #expect(try PG.script("pg-start.sh", server: own) == 0)
        let r = Sluice.finish(p, collected, timeLimit: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let retries = r.stdout.split(separator: "\n").first { $0.contains("after a lost connection") }
        #expect(retries != nil && !retries!.contains(" 0 retr"), "\(r.stdout)")
        #expect(r.stderr.contains("cannot connect to PostgreSQL") && r.stderr.contains("retrying in"), "\(r.stderr)")
        try verify(dir, table, rows: rows, sum: sum, port: own.port)
    }

    /// Rows the table refuses (a CHECK constraint) in several transactions of a fast load: each
    /// refusal rolls its transaction back and replays it under savepoints, the refused rows go to
    /// the dead-letter file with the server's reason and their line, and every other row lands
    /// once (checksum over every column against psql's own load of the source, less those rows).
    @Test func refusedRowsAreReplayedToTheDeadLetterFileAndTheRestLandsOnce() throws {
        let rows = TestScale.rows(60_000)
        let (dir, table, sum) = try setUp("refused", rows: rows)
        defer { PG.dropLoad(table, pipeline: "pg_refused") }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let refusedWhere = "\"count\" % 997 = 0"
        _ = try PG.psql("""
            CREATE TABLE "\(table)" ("timestamp" timestamptz NOT NULL, machine text, temperature float8, pressure numeric(8,2), status text,
                "count" bigint CHECK (NOT (\(refusedWhere)))) PARTITION BY RANGE ("timestamp")
            """)
        var refusedLines: [Int] = [], refusedSum: Int64 = 0
        for (i, line) in Sluice.lines("\(dir)/in/line-01/data.csv").enumerated().dropFirst() {
            let count = Int64(line.split(separator: ",").last!)!
            if count % 997 == 0 { refusedLines.append(i + 1); refusedSum += count }
        }
        #expect(refusedLines.count >= 3, "the source has too few rows to refuse")
        let r = try Sluice.run(["once", "pg_refused", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\(refusedLines.count) dead letters"), "\(r.stdout)")
        #expect(r.stdout.contains("from the last commit (the sink asked to read again: to find records the target refused"), "\(r.stdout)")
        let deadLetterPath = r.stdout.split(separator: "\n").first { $0.contains("dead letters: /") }.map { String($0.split(separator: ": ").last!) }
        let letters = Sluice.lines(deadLetterPath ?? "/nonexistent")
        #expect(letters.count == refusedLines.count)
        #expect(letters.allSatisfy { $0.contains("23514") }, "\(letters.prefix(2))")
        let lettersLines = letters.compactMap { l in l.range(of: "\"line\":").map { Int(l[$0.upperBound...].prefix { $0.isNumber })! } }
        #expect(lettersLines.sorted() == refusedLines, "\(lettersLines.prefix(5)) vs \(refusedLines.prefix(5))")
        try PG.verifyLoad(table, rows: rows - refusedLines.count, sum: sum - refusedSum, source: "\(dir)/in/line-01/data.csv", refusedWhere: refusedWhere)
    }

    @Test func partitionJobMakesThePartitionsAheadForEveryPartitionedTable() throws {
        let (dir, table, _) = try setUp("job", rows: 100)
        defer { PG.dropLoad(table, pipeline: "pg_job") }
        try Sluice.write("""
            [pipeline]
            name = "nightly"
            schedule = "30 23 * * *"
            [job]
            type = "postgres_partitions"
            premake = 10
            """, to: "\(dir)/conf/nightly.toml")
        let args = ["once", "nightly", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"]
        let list = try Sluice.run(["list", "--config-dir", "\(dir)/conf"])
        #expect(list.stdout.contains("cron 30 23 * * *") && list.stdout.contains("job: postgres_partitions"), "\(list.stdout)")

        // Before the pipeline's first load the table does not exist: said, not an error.
        let before = try Sluice.run(args)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stdout.contains("does not exist yet"), "\(before.stdout)")

        #expect(try Sluice.run(["once", "pg_job", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]).status == 0)
        let aheadSQL = "SELECT count(*) FROM pg_inherits WHERE inhparent = '\"\(table)\"'::regclass AND inhrelid::regclass::text >= '\(table)_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')"
        #expect(try PG.psql(aheadSQL) == "3") // the pipeline's own premake = 2: today and 2 ahead

        let run = try Sluice.run(args)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("created"), "\(run.stdout)")
        #expect(try PG.psql(aheadSQL) == "11") // today and 10 ahead
        let last = try PG.psql("SELECT to_char((now() AT TIME ZONE 'UTC')::date + 10, 'YYYYMMDD')")
        #expect(try PG.psql("SELECT count(*) FROM pg_class WHERE relname = '\(table)_p\(last)'") == "1")
        // Rows for the day after tomorrow land in their partition, made ahead.
        #expect(try PG.psql("INSERT INTO \"\(table)\" (\"timestamp\") VALUES (now() + interval '2 days') RETURNING tableoid::regclass::text").hasPrefix("\(table)_p"))

        let again = try Sluice.run(args)
        #expect(again.status == 0)
        #expect(again.stdout.contains("all 11 partitions ahead exist"), "\(again.stdout)")

        // A table that exists but is not partitioned is a failure of the job, exit 1.
        _ = try PG.psql("DROP TABLE \"\(table)\" CASCADE; CREATE TABLE \"\(table)\" (\"timestamp\" timestamptz)")
        let bad = try Sluice.run(args)
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("not partitioned"), "\(bad.stdout)")
    }
}

extension PG {
    /// Drops a load's table and checkpoint row (tests leave nothing behind in the shared server).
    static func dropLoad(_ table: String, pipeline: String, port: String = PG.port) {
        // A failed `streams = 2` test may leave a prepared transaction holding the table's locks.
        let prepared = (try? psql("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'sluice/\(pipeline)/%'", port: port)) ?? ""
        for gid in prepared.split(separator: "\n") { _ = try? psql("ROLLBACK PREPARED '\(gid)'", port: port) }
        _ = try? psql("DROP TABLE IF EXISTS \"\(table)\" CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline = '\(pipeline)'", port: port)
    }

    /// A pipeline file loading `rows` simulator rows into a fresh day-partitioned table; returns
    /// its folder, table and the source's `count` sum. `extraSink` adds lines to `[sink]`.
    static func setUpLoad(_ name: String, rows: Int, commitRows: Int = 20000, port: String = PG.port, extraSink: String = "",
                          pipelineExtra: String = "") throws -> (dir: String, table: String, sum: Int64) {
        let dir = try Sluice.tempDir(name)
        let table = "e2e_\(name)_\(UUID().uuidString.prefix(6).lowercased())"
        try MachineSimulator(style: .linux, seed: 11).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try "testpw\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        try Sluice.write("""
            [pipeline]
            name = "pg_\(name)"
            commit_rows = \(commitRows)
            \(pipelineExtra)
            \(Sluice.simulatorInput(dir, requiredTimestamp: true))
            [sink]
            type = "postgres"
            url = "\(PG.url(port: port))"
            password_file = "\(dir)/pgpass"
            table = "\(table)"
            partition = { column = "timestamp", interval = "day", premake = 2 }
            \(extraSink)
            """, to: "\(dir)/conf/pg.toml")
        // The checkpoint belongs to the pipeline name: a rerun of the suite starts from none.
        _ = try? PG.psql("DELETE FROM sluice_checkpoints WHERE pipeline = 'pg_\(name)'", port: port)
        var sum: Int64 = 0
        for line in Sluice.lines("\(dir)/in/line-01/data.csv").dropFirst() { sum += Int64(line.split(separator: ",").last!)! }
        return (dir, table, sum)
    }


    /// Count, distinct timestamps, and an md5 over every column of every row, in the table and
    /// in the source CSV loaded by psql's own `\copy` (an independent reader): all must match.
    /// `refusedWhere`: the source rows the table refuses (a condition on the reference's columns).
    static func verifyLoad(_ table: String, rows: Int, sum: Int64, port: String = PG.port, source: String? = nil, refusedWhere: String? = nil) throws {
        let r = try psql("SELECT count(*) || ',' || count(DISTINCT \"timestamp\") || ',' || sum(\"count\") FROM \"\(table)\"", port: port)
        #expect(r == "\(rows),\(rows),\(sum)")
        guard let source else { return }
        let reference = "ref_" + table
        defer { _ = try? psql("DROP TABLE IF EXISTS \"\(reference)\"", port: port) }
        let script = NSTemporaryDirectory() + "sluice-ref-\(UUID().uuidString.prefix(8)).sql"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try """
            SET TimeZone = 'UTC';
            CREATE TABLE "\(reference)" ("timestamp" timestamptz NOT NULL, machine text, temperature float8, pressure numeric(8,2), status text, "count" bigint);
            \\copy "\(reference)" FROM '\(source)' WITH (FORMAT csv, HEADER true)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        _ = try psql("", file: script, port: port)
        if let refusedWhere { _ = try psql("DELETE FROM \"\(reference)\" WHERE \(refusedWhere)", port: port) }
        func digest(_ t: String) throws -> String {
            try psql("""
                SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', extract(epoch FROM "timestamp")::text, machine, temperature::text, pressure::text, status, "count"::text), ',' ORDER BY "timestamp"))
                FROM "\(t)"
                """, port: port)
        }
        let expected = try digest(reference)
        let actual = try digest(table)
        #expect(actual == expected, "all-column checksum of \(table) differs from the source")
        let duplicates = try psql("SELECT count(*) FROM (SELECT \"timestamp\" FROM \"\(table)\" GROUP BY 1 HAVING count(*) > 1) d", port: port)
        #expect(duplicates == "0")
    }
}
