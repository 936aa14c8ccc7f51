import Foundation
import MachineSimulator
import Testing

/// Exactly-once under SIGKILL and SIGTERM: the jsonl output holds every source row exactly once.
@Suite(.serialized) struct CrashTests {
    static let rows = 1_000_000

    func setUp(_ name: String, rows: Int) throws -> (dir: String, expectedSum: Int64) {
        let dir = try Sluice.tempDir(name)
        let sim = MachineSimulator(style: .linux, seed: 7)
        try sim.write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try Sluice.write("""
            [pipeline]
            name = "load"
            schedule = "every 1s"
            commit_rows = 20000
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
            timestamp = "timestamp"
            machine = "string"
            temperature = "float64"
            pressure = "decimal(8,2)"
            status = "string"
            count = "int64"
            [sink]
            type = "jsonl"
            path = "\(dir)/out.jsonl"
            """, to: "\(dir)/conf/load.toml")
        // The checksum of the source: the sum of the `count` column.
        var sum: Int64 = 0
        for line in Sluice.lines("\(dir)/in/line-01/data.csv").dropFirst() {
            sum += Int64(line.split(separator: ",").last!)!
        }
        return (dir, sum)
    }

    /// Every row once: as many lines as rows, distinct timestamps, and the same checksum.
    func verify(_ dir: String, rows: Int, sum: Int64) {
        let lines = Sluice.lines("\(dir)/out.jsonl")
        #expect(lines.count == rows)
        var stamps = Set<Substring>()
        var total: Int64 = 0
        for l in lines {
            guard let t = l.range(of: "\"timestamp\":\""), let c = l.range(of: "\"count\":") else { Issue.record("bad line \(l)"); return }
            stamps.insert(l[t.upperBound...].prefix(27))
            total += Int64(l[c.upperBound...].prefix { $0.isNumber })!
        }
        #expect(stamps.count == rows, "duplicate rows in the output")
        #expect(total == sum)
    }

    @Test func sigkillAtTwentyRandomPointsLosesAndDuplicatesNothing() throws {
        let (dir, sum) = try setUp("kill", rows: Self.rows)
        let args = ["once", "load", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]
        // Calibrate the kill window on this machine and build.
        let started = Date()
        try Sluice.run(args)
        let fullRun = Date().timeIntervalSince(started)
        let kills = try Sluice.killRepeatedly(args, count: 20, maxDelay: max(0.1, fullRun / 12), timeLimit: 300) {
            try? FileManager.default.removeItem(atPath: "\(dir)/state")
            try? FileManager.default.removeItem(atPath: "\(dir)/out.jsonl")
        }
        #expect(kills >= 20, "only \(kills) kills landed during the load")
        let final = try Sluice.run(args)
        #expect(final.status == 0)
        verify(dir, rows: Self.rows, sum: sum)
    }

    @Test func sigtermFinishesTheBatchCommitsAndExitsZero() throws {
        let (dir, sum) = try setUp("term", rows: 300_000)
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        Thread.sleep(forTimeInterval: 0.4)
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!p.isRunning, "sluice run did not stop after SIGTERM")
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(stderr)")
        // What is in the file is exactly what the checkpoint committed.
        let checkpoint = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/state/load/checkpoint.json"))) as? [String: Any]
        let committed = (checkpoint?["outputs"] as? [String: Any])?["sink"] as? Int
        let size = (try FileManager.default.attributesOfItem(atPath: "\(dir)/out.jsonl")[.size] as? Int) ?? -1
        #expect(committed == size)
        try Sluice.run(["once", "load", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        verify(dir, rows: 300_000, sum: sum)
    }

    @Test func daemonPicksUpNewRowsOnItsSchedule() throws {
        let (dir, _) = try setUp("daemon", rows: 100)
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        func waitFor(_ n: Int) -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if Sluice.lines("\(dir)/out.jsonl").count == n { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return false
        }
        #expect(waitFor(100))
        // The machine appends 50 rows; the next scheduled run (every 1s) loads exactly those.
        try MachineSimulator(style: .linux, seed: 7).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 150, mode: .append)
        #expect(waitFor(150))
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        #expect(p.terminationStatus == 0)
        #expect(Sluice.lines("\(dir)/out.jsonl").count == 150)
    }
}
