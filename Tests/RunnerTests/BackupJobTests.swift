import ConnectorKit
import Foundation
import MachineSimulator
import Testing
import TestSupport

/// The `postgres_backup` job against the real server and the real pg_dump / pg_restore: a dump
/// restored into a fresh database holds the same rows (a checksum over every column), old dumps
/// are pruned, a nearly full disk and a refused password fail clearly and leave nothing behind.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct BackupJobTests {
    /// Count and an md5 over every column of every row, in a stable order.
    static func fingerprint(_ table: String, database: String) throws -> String {
        try PG.psql("""
            SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY "timestamp", machine), ''))
            FROM "\(table)" t
            """, database: database)
    }

    @Test func dumpRestoresIntoAFreshDatabaseWithEveryRow() throws {
        let tag = UUID().uuidString.prefix(6).lowercased()
        let database = "bk_\(tag)", restored = "bk_\(tag)_restored"
        _ = try PG.psql("CREATE DATABASE \(database)")
        defer { _ = try? PG.psql("DROP DATABASE IF EXISTS \(database) WITH (FORCE)"); _ = try? PG.psql("DROP DATABASE IF EXISTS \(restored) WITH (FORCE)") }
        let dir = try Sluice.tempDir("backup")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rows = 20_000
        try MachineSimulator(style: .linux, seed: 31).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try "testpw\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        let url = String(PG.url.dropLast("postgres".count)) + database
        try Sluice.write("""
            [pipeline]
            name = "press"
            \(Sluice.simulatorInput(dir, requiredTimestamp: true))
            [sink]
            type = "postgres"
            url = "\(url)"
            password_file = "\(dir)/pgpass"
            table = "readings"
            partition = { column = "timestamp", interval = "day", premake = 1 }
            """, to: "\(dir)/conf/press.toml")
        // No url: the job backs up the database the pipeline loads, with the pipeline's password.
        try Sluice.write("""
            [pipeline]
            name = "nightly-backup"
            schedule = "0 2 * * *"
            [job]
            type = "postgres_backup"
            folder = "\(dir)/dumps"
            keep_daily = 3
            keep_monthly = 2
            min_free_space = "1MiB"
            """, to: "\(dir)/conf/backup.toml")
        let args = ["--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"]
        #expect(try Sluice.run(["once", "press", "--no-progress"] + args).status == 0)
        let before = try Self.fingerprint("readings", database: database)
        #expect(before.hasPrefix("\(rows):"))

        let run = try Sluice.run(["once", "nightly-backup"] + args)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("verified with pg_restore --list"), "\(run.stdout)")
        let dumps = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/dumps").filter { $0.hasSuffix(".dump") }
        #expect(dumps.count == 1 && dumps[0].hasPrefix("\(database)-"), "\(dumps)")
        let dump = "\(dir)/dumps/\(dumps[0])"
        let mode = (try FileManager.default.attributesOfItem(atPath: dump)[.posixPermissions] as? Int) ?? 0
        #expect(mode & 0o077 == 0, "the dump is readable by others: \(String(mode, radix: 8))")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/state/nightly-backup")) ?? []
        #expect(leftovers.isEmpty, "the pgpass file was left behind: \(leftovers)")

        // Restore with pg_restore into a fresh database: the same rows, every column.
        _ = try PG.psql("CREATE DATABASE \(restored)")
        let restore = Process()
        restore.executableURL = URL(fileURLWithPath: "/usr/bin/pg_restore")
        restore.arguments = ["--no-owner", "--exit-on-error", "--dbname=" + String(PG.url.dropLast("postgres".count)) + restored, dump]
        restore.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": "testpw"]) { $1 }
        let err = ProcessLaunch.pipe()
        restore.standardError = err
        try ProcessLaunch.run(restore)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = restore.waitForEnd()
        #expect(status == 0, "pg_restore: \(errors)")
        #expect(try Self.fingerprint("readings", database: restored) == before)
        let partitions = try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass", database: restored)
        #expect((Int(partitions) ?? 0) > 1, "the day partitions were not restored")

        // Two more runs the same day: one dump per day is kept, the newest.
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try Sluice.run(["once", "nightly-backup"] + args).status == 0)
        let after = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/dumps").filter { $0.hasSuffix(".dump") }
        #expect(after.count == 1 && after[0] != dumps[0], "\(after)")
    }

    @Test func nearlyFullDiskAndRefusedPasswordFailClearlyAndLeaveNothing() throws {
        let dir = try Sluice.tempDir("backup-refused")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "testpw\n".write(toFile: "\(dir)/good", atomically: true, encoding: .utf8)
        try "not-the-password\n".write(toFile: "\(dir)/bad", atomically: true, encoding: .utf8)
        func job(_ name: String, password: String, extra: String) throws {
            try Sluice.write("""
                [pipeline]
                name = "\(name)"
                [job]
                type = "postgres_backup"
                url = "\(PG.url)"
                password_file = "\(dir)/\(password)"
                folder = "\(dir)/dumps"
                \(extra)
                """, to: "\(dir)/conf/\(name).toml")
        }
        try job("full", password: "good", extra: "min_free_space = \"1000TiB\"")
        try job("refused", password: "bad", extra: "min_free_space = \"1MiB\"")
        let args = ["--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"]
        let full = try Sluice.run(["once", "full"] + args)
        #expect(full.status != 0)
        #expect((full.stdout + full.stderr).contains("refusing to start"), "\(full.stdout)\(full.stderr)")
        #expect((full.stdout + full.stderr).contains("1000.0") || (full.stdout + full.stderr).contains("TiB") || (full.stdout + full.stderr).contains("GiB"))
        let refused = try Sluice.run(["once", "refused"] + args)
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("password authentication failed"), "\(refused.stdout)\(refused.stderr)")
        #expect(!(refused.stdout + refused.stderr).contains("not-the-password"), "the password was printed")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/dumps")) ?? []
        #expect(files.isEmpty, "left behind: \(files)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/state/refused")) ?? []).isEmpty, "the pgpass file was left behind")
    }
}
