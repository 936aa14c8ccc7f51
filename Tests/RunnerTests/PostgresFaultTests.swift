import Foundation
import MachineSimulator
import Testing
import TestSupport

/// Faults on the wire between `sluice once` and PostgreSQL, each ending with count, an
/// all-column checksum equal to the source and no duplicate key. The TCP fault proxy sits between
/// the two (127.0.0.1 only) and cuts (reset), stalls or slows the connection at a byte count, a
/// statement or a time; the rest use the server itself (pg_terminate_backend, a fast restart, a
/// server that starts late).
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct PostgresFaultTests {
    static let rows = TestScale.rows(300_000)

    /// Loads through a fresh proxy; `during` injects the fault while the load runs. Returns the
    /// run's output.
    func loadThroughProxy(_ name: String, rows: Int = rows, commitRows: Int = TestScale.rows(20_000), extraSink: String = "",
                          pipelineExtra: String = "", _ during: (FaultProxy, Process) throws -> Void) throws -> Sluice.Result {
        let proxy = try FaultProxy(upstreamPort: Int(PG.port)!)
        defer { proxy.stop() }
        let (dir, table, sum) = try PG.setUpLoad(name, rows: rows, commitRows: commitRows, port: String(proxy.port), extraSink: extraSink,
                                                 pipelineExtra: pipelineExtra)
        defer { cleanUp(dir, table, name) }
        let (p, out, err) = try Sluice.start(["once", "pg_\(name)", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        let collected = Sluice.collect(out, err)
        try during(proxy, p)
        let result = Sluice.finish(p, collected, timeLimit: 180)
        #expect(result.status == 0, "\(result.stderr)")
        try PG.verifyLoad(table, rows: rows, sum: sum, source: "\(dir)/in/line-01/data.csv")
        #expect(result.stdout.contains("\(rows) records written"), "the summary must count committed rows: \(result.stdout)")
        return result
    }

    func cleanUp(_ dir: String, _ table: String, _ name: String) {
        _ = try? PG.psql("DROP TABLE IF EXISTS \"\(table)\" CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline = 'pg_\(name)'")
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Waits (bounded) until `condition` holds; false when it never did.
    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    @Test func connectionCutInTheMiddleOfACopy() throws {
        let r = try loadThroughProxy("cut_copy") { proxy, _ in
            // 4 MB into the load: inside a COPY stream (a transaction carries ~1 MB per 20,000 rows).
            proxy.arm(.cut, afterUpstreamBytes: TestScale.bytes(4_000_000))
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the cut never fired")
        }
        #expect(r.stderr.contains("retrying in"), "\(r.stderr)")
        #expect(r.stdout.contains("retry after a lost connection"), "\(r.stdout)")
    }

    @Test func connectionCutAfterTheLastBatchBeforeCommit() throws {
        let r = try loadThroughProxy("cut_before_commit") { proxy, _ in
            // The checkpoint row goes out just before COMMIT: cut before the server sees it.
            proxy.arm(.cut, whenUpstreamContains: "\"sluice_checkpoints\" AS c (pipeline, checkpoint", occurrence: 4)
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the cut never fired")
        }
        #expect(r.stderr.contains("retrying in"), "\(r.stderr)")
    }

    /// The ambiguous case: the server gets COMMIT and commits, the answer never arrives. The retry
    /// reads the checkpoint row back and resends only what it does not cover.
    @Test func connectionCutDuringCommit() throws {
        let r = try loadThroughProxy("cut_in_commit") { proxy, _ in
            proxy.arm(.cut, whenUpstreamContains: "COMMIT\0", occurrence: 5, forwardingMatch: true)
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the cut never fired")
        }
        #expect(r.stderr.contains("retrying in"), "\(r.stderr)")
    }

    /// A stalled connection (the proxy forwards nothing, sockets stay open) ends in the sink's
    /// timeout, and the retry loads the rest.
    @Test func stalledConnectionHitsTheTimeoutAndIsRetried() throws {
        let r = try loadThroughProxy("stall", extraSink: "timeout = \"2s\"") { proxy, _ in
            proxy.arm(.stall, afterUpstreamBytes: TestScale.bytes(3_000_000))
            #expect(waitUntil(60) { proxy.faultsFired == 1 }, "the stall never fired")
            // The stalled connection stays stalled; new connections must pass.
            Thread.sleep(forTimeInterval: 3)
            proxy.cutAll()
            proxy.setMode(.pass)
        }
        #expect(r.stderr.contains("no answer from the server for 2 s"), "\(r.stderr)")
    }

    /// The reproduction of the data-loss bug: the backend serving Sluice is terminated mid-load
    /// (what a DBA, idle_in_transaction_session_timeout or a failover does); the server stays up.
    @Test func backendTerminatedMidLoadLosesNothing() throws {
        let rows = TestScale.rows(1_000_000)
        let (dir, table, sum) = try PG.setUpLoad("terminate", rows: rows, commitRows: TestScale.rows(500_000),
                                                 extraSink: "", pipelineExtra: "commit_interval = \"1s\"")
        defer { cleanUp(dir, table, "terminate") }
        let (p, out, err) = try Sluice.start(["once", "pg_terminate", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        let collected = Sluice.collect(out, err)
        #expect(waitUntil(60) { (try? PG.psql("SELECT count(*) FROM sluice_checkpoints WHERE pipeline = 'pg_terminate'")) == "1" })
        // Past the first commit, in the middle of a transaction.
        Thread.sleep(forTimeInterval: 0.3)
        // Only this load's backend: each connection names its pipeline (other suites run alongside).
        let killed = try PG.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sluice/pg_terminate'")
        #expect(p.isAlive && killed == "1", "the load was not running when its backend was terminated (\(killed))")
        let result = Sluice.finish(p, collected, timeLimit: 180)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("retrying in"), "\(result.stderr)")
        #expect(result.stdout.contains("\(rows) records written"), "\(result.stdout)")
        try PG.verifyLoad(table, rows: rows, sum: sum, source: "\(dir)/in/line-01/data.csv")
    }

    /// Twenty cuts at random byte counts during one 1M-row load into a day-partitioned table, all
    /// survived by the one run's retries.
    @Test func twentyRandomCutsDuringAPartitionedLoad() throws {
        let rows = TestScale.rows(1_000_000)
        var fired = 0
        // Small transactions (1,000 rows, about 55 kB) so that most attempts commit something
        // before their cut, 50–250 kB later: every cut lands in a different place of the load.
        _ = try loadThroughProxy("cuts20", rows: rows, commitRows: 1000, pipelineExtra: "batch_rows = 500") { proxy, p in
            let deadline = Date().addingTimeInterval(240)
            while fired < 20 && p.isAlive && Date() < deadline {
                proxy.arm(.cut, afterUpstreamBytes: Int64.random(in: 50_000...250_000))
                _ = waitUntil(30) { proxy.faultsFired > fired || !p.isAlive }
                fired = proxy.faultsFired
            }
        }
        #expect(fired == 20, "only \(fired) cuts landed during the load")
    }

    /// A refused login is recognised by its SQLSTATE, whatever language the server and libpq
    /// speak: not retried, not taken for a network problem. On a cluster of its own whose messages
    /// are German (PostgreSQL 15 ships no Brazilian Portuguese; that locale is tried too).
    @Test func refusedLoginIsRecognisedInAnyLanguage() throws {
        let own = (port: String(Int(PG.port)! + 2), dir: "/tmp/sluice-test-pg-de")
        #expect(try PG.script("pg-start.sh", server: own, options: "-c lc_messages=de_DE.UTF-8") == 0)
        defer { _ = try? PG.script("pg-stop.sh", server: own); try? FileManager.default.removeItem(atPath: own.dir) }
        let (dir, table, _) = try PG.setUpLoad("login", rows: 10, port: own.port)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "wrong-password\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        for language in ["de_DE.UTF-8", "pt_BR.UTF-8"] {
            let r = try Sluice.run(["once", "pg_login", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"],
                                   environment: ["LC_MESSAGES": language, "LANG": language, "LANGUAGE": String(language.prefix(5))])
            #expect(r.status == 1, "\(language): \(r.stderr)")
            #expect(r.stderr.contains("28P01"), "\(language): \(r.stderr)")
            #expect(!r.stderr.contains("retrying in"), "\(language): a refused login was retried: \(r.stderr)")
            if language.hasPrefix("de") {
                // The test means something only if the message really is translated.
                #expect(r.stderr.contains("Passwort-Authentifizierung"), "the server's message is not German: \(r.stderr)")
            }
        }
        _ = table
    }
}
