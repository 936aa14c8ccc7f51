import Foundation
import MachineSimulator
import Testing
import TestSupport

/// Exactly-once under SIGKILL and SIGTERM: the jsonl output holds every source row exactly once.
@Suite(.blockingWork, .serialized) struct CrashTests {
    static let rows = TestScale.rows(1_000_000)

    func setUp(_ name: String, rows: Int) throws -> (dir: String, expectedSum: Int64) {
        let dir = try Sluice.tempDir(name)
        let sim = MachineSimulator(style: .linux, seed: 7)
        try sim.write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows, mode: .append)
        try Sluice.write("""
            [pipeline]
            name = "load"
            schedule = "every 1s"
            commit_rows = 20000
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
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

    /// Every row once, every column intact: the output's rows, each rendered with all six
    /// columns, equal the source CSV's rows as multisets (no row lost, repeated or altered).
    func verify(_ dir: String, rows: Int, sum: Int64) {
        let lines = Sluice.lines("\(dir)/out.jsonl")
        #expect(lines.count == rows)
        let keys = ["timestamp", "machine", "temperature", "pressure", "status", "count"]
        func canonical(_ fields: [Substring]) -> String {
            // Timestamps as written (the output adds microseconds); numbers by value.
            let ts = fields[0].replacingOccurrences(of: ".000000Z", with: "Z")
            let temperature = Double(fields[2]).map { "\($0)" } ?? "?"
            return [ts, String(fields[1]), temperature, String(fields[3]), String(fields[4]), String(fields[5])].joined(separator: "|")
        }
        var output: [String] = []
        output.reserveCapacity(lines.count)
        for l in lines {
            var fields: [Substring] = []
            for key in keys {
                guard let r = l.range(of: "\"\(key)\":") else { Issue.record("bad line \(l)"); return }
                var value = l[r.upperBound...]
                if value.hasPrefix("\"") {
                    value = value.dropFirst()
                    value = value[..<(value.firstIndex(of: "\"") ?? value.endIndex)]
                } else {
                    value = value[..<(value.firstIndex { $0 == "," || $0 == "}" } ?? value.endIndex)]
                }
                fields.append(value)
            }
            output.append(canonical(fields))
        }
        let source = Sluice.lines("\(dir)/in/line-01/data.csv").dropFirst().map { canonical($0.split(separator: ",", omittingEmptySubsequences: false)) }
        #expect(source.count == rows)
        let (a, b) = (output.sorted(), source.sorted())
        if a != b {
            let missing = Set(b).subtracting(a).count, extra = Set(a).subtracting(b).count
            Issue.record("the output differs from the source: \(missing) source rows missing, \(extra) rows not in the source, \(a.count - Set(a).count) repeated")
        }
        _ = sum
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

    /// SIGTERM while a batch is provably in flight: output is already growing and far from
    /// complete when the signal arrives; the daemon finishes the batch, commits, exits 0, and the
    /// file holds exactly what the checkpoint committed, less than the whole load.
    @Test func sigtermFinishesTheBatchCommitsAndExitsZero() throws {
        // Not scaled down under sanitizers: a small load fits in the stages' queues, and then the
        // drain legitimately finishes all of it.
        let rows = 1_000_000
        let (dir, sum) = try setUp("term", rows: rows)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        func outputSize() -> Int { (try? FileManager.default.attributesOfItem(atPath: "\(dir)/out.jsonl")[.size] as? Int) ?? 0 }
        let deadline = Date().addingTimeInterval(60)
        while outputSize() == 0 && p.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        let linesAtSignal = Sluice.lines("\(dir)/out.jsonl").count
        kill(p.processIdentifier, SIGTERM)
        #expect(outputSize() > 0, "no output before the signal")
        #expect(linesAtSignal < rows / 2, "the load was not in flight: \(linesAtSignal) of \(rows) rows already out")
        let result = Sluice.finish(p, collected, timeLimit: 30)
        #expect(result.status == 0, "\(result.stderr)")
        // What is in the file is exactly what the checkpoint committed, and not the whole load.
        let checkpoint = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/state/load/checkpoint.json"))) as? [String: Any]
        let committed = (checkpoint?["outputs"] as? [String: Any])?["sink"] as? Int
        #expect(committed == outputSize())
        let linesAfter = Sluice.lines("\(dir)/out.jsonl").count
        #expect(linesAfter > 0 && linesAfter < rows, "\(linesAfter) rows committed; the drain should stop after the batch in flight")
        try Sluice.run(["once", "load", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        verify(dir, rows: rows, sum: sum)
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
        p.waitForEnd()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        #expect(p.endedStatus == 0)
        #expect(Sluice.lines("\(dir)/out.jsonl").count == 150)
    }
}
