import Foundation
import MachineSimulator
import Testing
import TestSupport

/// `sluice once` into MariaDB under the faults the PostgreSQL sink survives: SIGKILL at random
/// points, a connection cut or stalled by the TCP fault proxy, the server killing the session,
/// twenty cuts in one load. Each ends with the table equal to the source, compared with the
/// `mariadb` client's own LOAD DATA of the CSV (count, distinct timestamps, CRC sum and XOR over
/// every column).
@Suite(.blockingWork, .serialized, .enabled(if: MariaDB.enabled, "no MariaDB on 127.0.0.1:53306: run scripts/mariadb-start.sh (under CI this suite always runs)"))
struct MySQLFaultTests {
    static let rows = TestScale.rows(300_000)
    static let database = "sluice_test"

    /// A pipeline loading `rows` simulator rows into a fresh table; returns its folder and table.
    static func setUpLoad(_ name: String, rows: Int = rows, commitRows: Int = TestScale.rows(20_000), port: Int = MariaDB.port, load: String = "insert",
                          extraSink: String = "", pipelineExtra: String = "") throws -> (dir: String, table: String) {
        let dir = try Sluice.tempDir("mysql-\(name)")
        let table = "e2e_\(name)_\(UUID().uuidString.prefix(6).lowercased())"
        try MachineSimulator(style: .linux, seed: 11).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try "testpw\n".write(toFile: "\(dir)/password", atomically: true, encoding: .utf8)
        try Sluice.write("""
            [pipeline]
            name = "my_\(name)"
            commit_rows = \(commitRows)
            \(pipelineExtra)
            \(Sluice.simulatorInput(dir, requiredTimestamp: true))
            [sink]
            type = "mysql"
            url = "mysql://sluice@127.0.0.1:\(port)/\(database)"
            password_file = "\(dir)/password"
            table = "\(table)"
            load = "\(load)"
            \(extraSink)
            """, to: "\(dir)/conf/my.toml")
        _ = try? MariaDB.query("DELETE FROM sluice_checkpoints WHERE pipeline = 'my_\(name)'", database: database)
        return (dir, table)
    }

    static func cleanUp(_ dir: String, _ table: String, _ name: String) {
        _ = try? MariaDB.query("DROP TABLE IF EXISTS `\(table)`; DELETE FROM sluice_checkpoints WHERE pipeline = 'my_\(name)'", database: database)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The table against the source CSV loaded by the mariadb client into a reference table.
    static func verify(_ table: String, rows: Int, source: String) throws {
        let reference = "ref_" + table
        defer { _ = try? MariaDB.query("DROP TABLE IF EXISTS `\(reference)`", database: database) }
        _ = try MariaDB.query("CREATE TABLE `\(reference)` (`timestamp` DATETIME(6) NOT NULL, machine MEDIUMTEXT, temperature DOUBLE, pressure DECIMAL(8,2), status MEDIUMTEXT, `count` BIGINT)",
                              database: database)
        guard let client = MariaDB.client else { throw HTTP.Failure(description: "no mariadb client") }
        let load = try ExternalTool.run("/usr/bin/env", ["MYSQL_PWD=testpw", client, "--no-defaults", "--local-infile=1", "-h", "127.0.0.1", "-P", "\(MariaDB.port)",
                                                         "-u", "sluice", database, "-e", """
            LOAD DATA LOCAL INFILE '\(source)' INTO TABLE `\(reference)` CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"'
            IGNORE 1 LINES (@ts, machine, temperature, pressure, status, `count`) SET `timestamp` = STR_TO_DATE(@ts, '%Y-%m-%dT%H:%i:%sZ')
            """])
        #expect(load.status == 0, "\(load.output)")
        func digest(_ t: String) throws -> String {
            try MariaDB.query("""
                SELECT count(*), count(DISTINCT `timestamp`), SUM(CRC32(CONCAT_WS('|', `timestamp`, machine, temperature, pressure, status, `count`))),
                       BIT_XOR(CRC32(CONCAT_WS('|', `timestamp`, machine, temperature, pressure, status, `count`))) FROM `\(t)`
                """, database: database)
        }
        let expected = try digest(reference)
        #expect(expected.hasPrefix("\(rows)\t\(rows)\t"), "the reference load holds \(expected)")
        #expect(try digest(table) == expected, "all-column checksum of \(table) differs from the source")
    }

    /// Loads through a fresh proxy; `during` injects the fault while the load runs.
    func loadThroughProxy(_ name: String, rows: Int = rows, commitRows: Int = TestScale.rows(20_000), load: String = "insert", extraSink: String = "",
                          pipelineExtra: String = "", _ during: (FaultProxy, Process) throws -> Void) throws -> Sluice.Result {
        let proxy = try FaultProxy(upstreamPort: MariaDB.port)
        defer { proxy.stop() }
        let (dir, table) = try Self.setUpLoad(name, rows: rows, commitRows: commitRows, port: proxy.port, load: load, extraSink: extraSink, pipelineExtra: pipelineExtra)
        defer { Self.cleanUp(dir, table, name) }
        let (p, out, err) = try Sluice.start(["once", "my_\(name)", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        let collected = Sluice.collect(out, err)
        try during(proxy, p)
        let result = Sluice.finish(p, collected, timeLimit: 180)
        #expect(result.status == 0, "\(result.stderr)")
        try Self.verify(table, rows: rows, source: "\(dir)/in/line-01/data.csv")
        #expect(result.stdout.contains("\(rows) records written"), "the summary must count committed rows: \(result.stdout)")
        return result
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    @Test(arguments: ["insert", "load_data"])
    func sigkillTwentyTimesDuringALoadLosesAndDuplicatesNothing(load: String) throws {
        let name = "kill_\(load)"
        let (dir, table) = try Self.setUpLoad(name, load: load)
        defer { Self.cleanUp(dir, table, name) }
        let args = ["once", "my_\(name)", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]
        let kills = try Sluice.killRepeatedly(args, count: 20, maxDelay: 0.6, timeLimit: 300) {
            _ = try? MariaDB.query("DROP TABLE IF EXISTS `\(table)`; DELETE FROM sluice_checkpoints WHERE pipeline = 'my_\(name)'", database: Self.database)
        }
        #expect(kills >= 20, "only \(kills) kills landed during the load")
        #expect(try Sluice.run(args).status == 0)
        try Self.verify(table, rows: Self.rows, source: "\(dir)/in/line-01/data.csv")
    }

    @Test(arguments: ["insert", "load_data"])
    func connectionCutInTheMiddleOfALoad(load: String) throws {
        let r = try loadThroughProxy("cut_\(load)", load: load) { proxy, _ in
            proxy.arm(.cut, afterUpstreamBytes: TestScale.bytes(4_000_000))
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the cut never fired")
        }
        #expect(r.stderr.contains("retrying in"), "\(r.stderr)")
    }

    /// The checkpoint row goes out just before COMMIT: cut before the server sees it.
    @Test func connectionCutBeforeTheCommit() throws {
        let r = try loadThroughProxy("cut_before_commit") { proxy, _ in
            proxy.arm(.cut, whenUpstreamContains: "UPDATE `sluice_checkpoints` SET checkpoint", occurrence: 3)
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the cut never fired")
        }
        #expect(r.stderr.contains("retrying in"), "\(r.stderr)")
    }

    @Test func stalledConnectionHitsTheTimeoutAndIsRetried() throws {
        let r = try loadThroughProxy("stall", extraSink: "timeout = \"2s\"") { proxy, _ in
            proxy.arm(.stall, afterUpstreamBytes: TestScale.bytes(3_000_000))
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the stall never fired")
            Thread.sleep(forTimeInterval: 3)
            proxy.cutAll()
            proxy.setMode(.pass)
        }
        #expect(r.stderr.contains("retrying in"), "\(r.stderr)")
    }

    /// The server ends the session mid-load (a DBA's KILL, a failover); the server stays up.
    @Test func sessionKilledByTheServerMidLoadLosesNothing() throws {
        // At least 300k rows even under the sanitizers' scale: a shorter load can end before its
        // session is caught running an INSERT.
        let rows = max(TestScale.rows(1_000_000), 300_000)
        let (dir, table) = try Self.setUpLoad("server_kill", rows: rows, commitRows: TestScale.rows(100_000), pipelineExtra: "commit_interval = \"1s\"")
        defer { Self.cleanUp(dir, table, "server_kill") }
        let (p, out, err) = try Sluice.start(["once", "my_server_kill", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        let collected = Sluice.collect(out, err)
        #expect(waitUntil(60) { (try? MariaDB.query("SELECT count(*) FROM sluice_checkpoints WHERE pipeline = 'my_server_kill'", database: Self.database)) == "1" })
        // The load's session, caught while it runs one of its INSERTs (between them it sleeps).
        var session = ""
        _ = waitUntil(20) {
            session = (try? MariaDB.query("SELECT id FROM information_schema.processlist WHERE user = 'sluice' AND info LIKE 'INSERT INTO `\(table)`%' LIMIT 1",
                                          database: Self.database)) ?? ""
            return !session.isEmpty
        }
        if !session.isEmpty { _ = try? MariaDB.query("KILL CONNECTION \(session)", database: Self.database) }
        #expect(p.isAlive && !session.isEmpty, "the load was not inserting when its session was to be killed")
        let result = Sluice.finish(p, collected, timeLimit: 180)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("retrying in"), "\(result.stderr)")
        try Self.verify(table, rows: rows, source: "\(dir)/in/line-01/data.csv")
    }

    @Test func twentyRandomCutsDuringOneLoad() throws {
        var fired = 0
        // 1M rows (100k under the sanitizers' scale): enough SQL on the wire for twenty cuts.
        _ = try loadThroughProxy("cuts20", rows: TestScale.rows(1_000_000), commitRows: 1000, pipelineExtra: "batch_rows = 500") { proxy, p in
            let deadline = Date().addingTimeInterval(240)
            while fired < 20 && p.isAlive && Date() < deadline {
                proxy.arm(.cut, afterUpstreamBytes: Int64.random(in: 50_000...250_000))
                _ = waitUntil(30) { proxy.faultsFired > fired || !p.isAlive }
                fired = proxy.faultsFired
            }
        }
        #expect(fired == 20, "only \(fired) cuts landed during the load")
    }
}
