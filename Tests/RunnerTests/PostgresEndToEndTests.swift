import Foundation
import MachineSimulator
import Testing

/// The throwaway server of scripts/pg-start.sh, reached through psql. Locally skipped when no
/// server answers; under CI (`CI=true`) always run, so a missing server fails.
enum PG {
    static let url = "postgresql://postgres@127.0.0.1:\(ProcessInfo.processInfo.environment["SLUICE_PG_PORT"] ?? "55432")/postgres"
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available: Bool = (try? psql("SELECT 1")) == "1"
    static let enabled = available || required

    static func psql(_ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        p.arguments = [url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        var env = ProcessInfo.processInfo.environment
        env["PGPASSWORD"] = "testpw"
        env["PGCONNECT_TIMEOUT"] = "3"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func script(_ name: String, _ args: [String] = []) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["\(Sluice.root)/scripts/\(name)"] + args
        try p.run()
        p.waitUntilExit()
    }
}

@Suite(.serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct PostgresEndToEndTests {
    /// 1M simulator rows (5 s apart: 58 days) into a day-partitioned table.
    func setUp(_ name: String, rows: Int, commitRows: Int = 20000) throws -> (dir: String, table: String, sum: Int64) {
        let dir = try Sluice.tempDir(name)
        let table = "e2e_\(name)_\(UUID().uuidString.prefix(6).lowercased())"
        try MachineSimulator(style: .linux, seed: 11).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try "testpw\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        try Sluice.write("""
            [pipeline]
            name = "pg_\(name)"
            commit_rows = \(commitRows)
            [source]
            type = "files"
            path = "\(dir)/in"
            glob = "**/*.csv"
            settle = "0s"
            [[transform]]
            type = "csv"
            [[transform]]
            type = "schema"
            [transform.columns]
            timestamp = { type = "timestamp", nullable = false }
            machine = "string"
            temperature = "float64"
            pressure = "decimal(8,2)"
            status = "string"
            count = "int64"
            [sink]
            type = "postgres"
            url = "\(PG.url)"
            password_file = "\(dir)/pgpass"
            table = "\(table)"
            partition = { column = "timestamp", interval = "day", premake = 2 }
            """, to: "\(dir)/conf/pg.toml")
        var sum: Int64 = 0
        for line in Sluice.lines("\(dir)/in/line-01/data.csv").dropFirst() { sum += Int64(line.split(separator: ",").last!)! }
        return (dir, table, sum)
    }

    func verify(_ table: String, rows: Int, sum: Int64) throws {
        let r = try PG.psql("SELECT count(*) || ',' || count(DISTINCT \"timestamp\") || ',' || sum(\"count\") FROM \"\(table)\"")
        #expect(r == "\(rows),\(rows),\(sum)")
    }

    @Test func sigkillTwentyTimesDuringAPartitionedLoadLosesAndDuplicatesNothing() throws {
        let rows = 1_000_000
        let (dir, table, sum) = try setUp("kill", rows: rows)
        let args = ["once", "pg_kill", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]
        var kills = 0
        var maxDelay = 0.6
        for _ in 0..<4 where kills < 20 {
            _ = try? PG.psql("DROP TABLE IF EXISTS \"\(table)\" CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline = 'pg_kill'")
            kills = 0
            while true {
                let (p, out, err) = try Sluice.start(args)
                Thread.sleep(forTimeInterval: Double.random(in: 0.05...maxDelay))
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    p.waitUntilExit()
                    kills += 1
                    _ = out.fileHandleForReading.readDataToEndOfFile()
                    _ = err.fileHandleForReading.readDataToEndOfFile()
                } else {
                    p.waitUntilExit()
                    _ = out.fileHandleForReading.readDataToEndOfFile()
                    let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    #expect(p.terminationStatus == 0, "\(e)")
                    break
                }
            }
            maxDelay /= 2
        }
        #expect(kills >= 20, "only \(kills) kills landed during the load")
        #expect(try Sluice.run(args).status == 0)
        try verify(table, rows: rows, sum: sum)
        let partitions = try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\"\(table)\"'::regclass AND inhrelid::regclass::text LIKE '%_p2025%'")
        #expect(partitions == "58") // 1M rows × 5 s from 2025-01-01 03:00 UTC
    }

    @Test func serverRestartInTheMiddleOfALoadIsRetriedWithoutLossOrDuplicates() throws {
        let rows = 1_000_000
        let (dir, table, sum) = try setUp("restart", rows: rows, commitRows: 5000)
        _ = try? PG.psql("DELETE FROM sluice_checkpoints WHERE pipeline = 'pg_restart'")
        let (p, out, err) = try Sluice.start(["once", "pg_restart", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        // Wait for the first committed transaction (its checkpoint row: polling the partitioned
        // table itself would wait on the load's partition locks), then take the server away for 2 s.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, p.isRunning, (try? PG.psql("SELECT count(*) FROM sluice_checkpoints WHERE pipeline = 'pg_restart'")) != "1" {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(p.isRunning, "the load finished before the restart")
        try PG.script("pg-restart.sh", ["2"])
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(e)")
        #expect(String(decoding: o, as: UTF8.self).contains("after a lost connection"))
        #expect(e.contains("retrying in"))
        try verify(table, rows: rows, sum: sum)
    }
}
