import Foundation
import MachineSimulator
import Testing
import TestSupport

/// `sluice checkpoints show|reset` on a local checkpoint (jsonl) and on one PostgreSQL keeps.
@Suite(.blockingWork, .serialized) struct CheckpointsCommandTests {
    func writeRows(_ dir: String, _ total: Int) throws {
        try MachineSimulator(style: .linux, seed: 11).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: total, mode: .append)
    }

    func once(_ dir: String, _ name: String) throws -> Int {
        let r = try Sluice.run(["once", name, "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        #expect(r.status == 0, "\(r.stderr)")
        // "NAME: N records written, …"
        return Int(r.stdout.split(separator: ":").dropFirst().first?.split(separator: " ").first ?? "") ?? -1
    }

    func tool(_ dir: String, _ args: [String]) throws -> Sluice.Result {
        try Sluice.run(["checkpoints"] + args + ["--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
    }

    @Test func showAndResetALocalCheckpoint() throws {
        let dir = try Sluice.tempDir("checkpoints")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeRows(dir, 100)
        try Sluice.write("""
            [pipeline]
            name = "press"
            schedule = "every 1s"
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
            [sink]
            type = "jsonl"
            path = "\(dir)/out.jsonl"
            """, to: "\(dir)/conf/press.toml")
        let empty = try tool(dir, ["show", "press"])
        #expect(empty.status == 0 && empty.stdout.contains("nothing committed yet") && empty.stdout.contains("line-01/data.csv: not read yet"), "\(empty.stdout)")
        #expect(try once(dir, "press") == 100)
        let size = try FileManager.default.attributesOfItem(atPath: "\(dir)/in/line-01/data.csv")[.size] as! Int
        let shown = try tool(dir, ["show", "press"])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("commit ") && shown.stdout.contains("line-01/data.csv") && shown.stdout.contains("\(size)")
                && shown.stdout.contains("up to date") && shown.stdout.contains("101"), "\(shown.stdout)") // 101 lines with the header
        try writeRows(dir, 150)
        let behind = try tool(dir, ["show", "press"])
        let grown = try FileManager.default.attributesOfItem(atPath: "\(dir)/in/line-01/data.csv")[.size] as! Int
        #expect(behind.stdout.contains("\(grown - size) bytes to read"), "\(behind.stdout)")

        // Skip the backlog: the 50 new rows are passed over, later rows are loaded.
        let toEnd = try tool(dir, ["reset", "press", "--to-end"])
        #expect(toEnd.status == 0 && toEnd.stdout.contains("line-01/data.csv moved to its end"), "\(toEnd.stdout) \(toEnd.stderr)")
        #expect(try once(dir, "press") == 0)
        try writeRows(dir, 160)
        #expect(try once(dir, "press") == 10)
        #expect(Sluice.lines("\(dir)/out.jsonl").count == 110)

        // Read again from the start: every row once more.
        let bad = try tool(dir, ["reset", "press", "--file", "nope.csv"])
        #expect(bad.status == 1 && bad.stderr.contains("no file 'nope.csv'"), "\(bad.stderr)")
        let again = try tool(dir, ["reset", "press", "--file", "line-01/data.csv"])
        #expect(again.status == 0 && again.stdout.contains("read again from the start"))
        #expect(try once(dir, "press") == 160)
        #expect(Sluice.lines("\(dir)/out.jsonl").count == 270)
    }

    @Test(.enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
    func resetToEndOfAPostgresCheckpointAndRefusalWhileTheDaemonRunsIt() throws {
        let dir = try Sluice.tempDir("checkpoints-pg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let schema = "ckpt_\(UInt32.random(in: 0...UInt32.max))"
        _ = try PG.psql("DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema);")
        defer { _ = try? PG.psql("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        try writeRows(dir, 100)
        let name = "ckpt_\(schema)"
        try Sluice.write("""
            [pipeline]
            name = "\(name)"
            schedule = "every 1s"
            \(Sluice.simulatorInput(dir, requiredTimestamp: true))
            [sink]
            type = "postgres"
            url = "\(PG.url)"
            password = "testpw"
            schema = "\(schema)"
            table = "press"
            """, to: "\(dir)/conf/press.toml")
        #expect(try once(dir, name) == 100)
        let shown = try tool(dir, ["show", name])
        #expect(shown.status == 0 && shown.stdout.contains("commit") && shown.stdout.contains("up to date"), "\(shown.stdout) \(shown.stderr)")
        try writeRows(dir, 130)
        let toEnd = try tool(dir, ["reset", name, "--to-end"])
        #expect(toEnd.status == 0, "\(toEnd.stderr)")
        #expect(try once(dir, name) == 0)
        try writeRows(dir, 135)
        #expect(try once(dir, name) == 5)
        #expect(try PG.psql("SELECT count(*) FROM \(schema).press") == "105")

        // While a daemon runs the pipeline, both are refused.
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: "\(dir)/state/.daemon/last-reload.json") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let refused = try tool(dir, ["reset", name])
        #expect(refused.status == 1 && refused.stderr.contains("daemon"), "\(refused.stderr)")
        let refusedShow = try tool(dir, ["show", name])
        #expect(refusedShow.status == 1)
        kill(p.processIdentifier, SIGTERM)
        #expect(Sluice.finish(p, collected, timeLimit: 30).status == 0)
        #expect(try PG.psql("SELECT count(*) FROM \(schema).press") == "105")
    }
}
