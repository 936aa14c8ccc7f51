import ConnectorKit
import Foundation
import MachineSimulator
import Testing
import TestSupport

/// Three `sluice run` daemons on one machine share one connectors.d, one sluice.toml with
/// `[daemon.cluster]` and one PostgreSQL, each with its own state folder, as daemons on three
/// machines would. One is SIGKILLed in the middle of a load, again and again, and started again:
/// another daemon takes the load over from the committed checkpoint; every pipeline keeps loading;
/// in the end every row is in its table once (count, distinct timestamps, an md5 over every
/// column against psql's own `\copy` of the source), and the JSONL pipeline whose checkpoint lives
/// in PostgreSQL (`state = "postgres"`) wrote every line once to the shared folder.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct ClusterDaemonTests {
    /// `PostgresRunCoordinator`'s lock key seed ("SLCE").
    static let lockSeed = 0x534C_4345

    /// One daemon; its output goes to a log file per start, not a pipe: another daemon started
    /// meanwhile could inherit a pipe's write end and keep it open after this one is killed.
    final class Daemon {
        let index: Int
        let args: [String]
        let logFolder: String
        var process: Process
        var starts = 0
        var node: String { "d\(index)" }

        init(index: Int, args: [String], logFolder: String) throws {
            self.index = index
            self.args = args
            self.logFolder = logFolder
            process = Process()
            try launch()
        }

        var logPath: String { "\(logFolder)/d\(index)-\(starts).log" }

        private func launch() throws {
            starts += 1
            FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Sluice.binary)
            p.arguments = args + ["--listen", "127.0.0.1:0"]
            p.environment = ProcessInfo.processInfo.environment.merging(["SLUICE_TEST_NODE": node]) { $1 }
            p.standardOutput = log
            p.standardError = log
            try ProcessLaunch.run(p)
            try log.close()
            process = p
        }

        var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        /// SIGKILL, then the same daemon (same state folder and node) started again; returns what
        /// the killed one logged.
        func killAndRestart() throws -> String {
            kill(process.processIdentifier, SIGKILL)
            process.waitForEnd()
            let logged = output
            try launch()
            return logged
        }

        /// SIGTERM; the exit status (nil when it had to be killed after `timeLimit` seconds) and the log.
        func stop(timeLimit: Double) -> (status: Int32?, log: String) {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(timeLimit)
            while process.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isAlive {
                kill(process.processIdentifier, SIGKILL)
                process.waitForEnd()
                return (nil, output)
            }
            return (process.endedStatus, output)
        }
    }

    /// For each work: the committed byte offset in its input (from its checkpoint row) and the
    /// node holding its run lock, in one cheap psql call, so that the test samples faster than a
    /// load ends.
    static func observe(_ works: [String]) -> [String: (offset: Int64, holder: String?)] {
        let parts = works.map { w -> String in
            """
            SELECT '\(w)', COALESCE((SELECT sum((f.value->>'offset')::bigint) FROM sluice_checkpoints c, jsonb_each(c.checkpoint->'files') f
                                     WHERE c.pipeline = '\(w)'), 0),
                (SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('\(w)', \(lockSeed)) LIMIT 1)
            """
        }
        guard let text = try? PG.psql(parts.joined(separator: " UNION ALL ")) else { return [:] }
        var result: [String: (offset: Int64, holder: String?)] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3 else { continue }
            result[f[0]] = (Int64(f[1]) ?? 0, f[2].hasPrefix("sluice-lock ") ? String(f[2].dropFirst("sluice-lock ".count)) : nil)
        }
        return result
    }

    /// Counts line ends of a growing file, reading only what was added since the last call
    /// (from the start again when the file got shorter: a take-over cut an uncommitted tail).
    final class LineCounter {
        let path: String
        private var offset: UInt64 = 0
        private(set) var lines = 0

        init(_ path: String) { self.path = path }

        func update() -> Int {
            guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            if size < offset { offset = 0; lines = 0 }
            try? handle.seek(toOffset: offset)
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                lines += chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
                    var found = 0
                    var at = 0
                    while at < raw.count, let hit = memchr(raw.baseAddress! + at, 0x0A, raw.count - at) {
                        found += 1
                        at = UnsafeRawPointer(hit) - raw.baseAddress! + 1
                    }
                    return found
                }
                offset += UInt64(chunk.count)
            }
            return lines
        }
    }

    static func count(_ table: String) -> Int { Int((try? PG.psql("SELECT count(*) FROM \"\(table)\"")) ?? "") ?? 0 }

    static func sum(_ csv: String) -> Int64 {
        Sluice.lines(csv).dropFirst().reduce(0) { $0 + Int64($1.split(separator: ",").last!)! }
    }

    @Test func threeDaemonsShareThePipelinesAndTakeOverFromAKilledOne() throws {
        let dir = try Sluice.tempDir("cluster")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let suffix = UUID().uuidString.prefix(6).lowercased()
        let loads = ["a", "b", "c"].map { (name: "cluster_\($0)_\(suffix)", table: "cluster_\($0)_\(suffix)") }
        let filesPipeline = "cluster_files_\(suffix)"
        let sharedOutput = "\(dir)/shared/\(filesPipeline).jsonl"
        defer {
            for l in loads { PG.dropLoad(l.table, pipeline: l.name) }
            _ = try? PG.psql("DELETE FROM sluice_checkpoints WHERE pipeline = '\(filesPipeline)'; DELETE FROM sluice_runs WHERE work LIKE 'cluster_%_\(suffix)'")
        }
        var expected: [String: Int] = [:]
        let initialRows = TestScale.rows(400_000)
        func input(_ pipeline: String) -> String { "\(dir)/\(pipeline)/in/line-01/data.csv" }
        // The release binary's simulator appends (the test build's is ten times slower: loads
        // would end while the test still writes).
        func grow(_ pipeline: String, by rows: Int) throws {
            let total = (expected[pipeline] ?? 0) + rows
            let r = try Sluice.run(["simulate", "--out", "\(dir)/\(pipeline)/in", "--style", "linux", "--machines", "1", "--rows", "\(total)",
                                    "--seed", "\(pipeline.hasPrefix(filesPipeline) ? 7 : 5)"])
            #expect(r.status == 0, "\(r.stderr)")
            expected[pipeline] = total
        }
        try "testpw\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        let commitRows = TestScale.rows(20_000)
        for l in loads {
            try grow(l.name, by: initialRows)
            try Sluice.write("""
                [pipeline]
                name = "\(l.name)"
                schedule = "every 1s"
                commit_rows = \(commitRows)
                \(Sluice.simulatorInput("\(dir)/\(l.name)", requiredTimestamp: true))
                [sink]
                type = "postgres"
                url = "\(PG.url)"
                password_file = "\(dir)/pgpass"
                table = "\(l.table)"
                partition = { column = "timestamp", interval = "day", premake = 1 }
                """, to: "\(dir)/conf/\(l.name).toml")
        }
        try grow(filesPipeline, by: initialRows / 2)
        try Sluice.write("""
            [pipeline]
            name = "\(filesPipeline)"
            schedule = "every 1s"
            commit_rows = \(commitRows)
            state = "postgres"
            \(Sluice.simulatorInput("\(dir)/\(filesPipeline)", requiredTimestamp: true))
            [sink]
            type = "jsonl"
            path = "\(sharedOutput)"
            """, to: "\(dir)/conf/\(filesPipeline).toml")
        try Sluice.write("""
            [daemon]
            max_concurrent_runs = 2
            [daemon.cluster]
            url = "\(PG.url)"
            password_file = "\(dir)/pgpass"
            node = "${SLUICE_TEST_NODE}"
            """, to: "\(dir)/sluice.toml")
        _ = try? PG.psql("DELETE FROM sluice_checkpoints WHERE pipeline LIKE 'cluster_%_\(suffix)'")

        let daemons = try (1...3).map { i in
            try Daemon(index: i, args: ["run", "--config-dir", "\(dir)/conf", "--settings", "\(dir)/sluice.toml", "--state-dir", "\(dir)/state-\(i)"],
                       logFolder: dir)
        }
        defer { for d in daemons where d.process.isAlive { kill(d.process.processIdentifier, SIGKILL) } }
        func loaded(_ pipeline: String) -> Int {
            pipeline == filesPipeline ? LineCounter(sharedOutput).update() : Self.count(loads.first { $0.name == pipeline }!.table)
        }
        let pipelines = loads.map(\.name) + [filesPipeline]

        // Kill whichever daemon holds a load in its middle (its committed offset past 0 and short
        // of the input's size); when every load is done, grow the inputs.
        let wantedKills = 8
        var kills = 0
        var killedLogs: [String] = []
        var sawElsewhere = false
        let sharedLines = LineCounter(sharedOutput)
        func size(_ path: String) -> Int64 { ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0 }
        let deadline = Date().addingTimeInterval(300)
        while kills < wantedKills && Date() < deadline {
            let seen = Self.observe(pipelines)
            // Never more lines than the source holds, at any moment: a daemon that took the
            // pipeline over from a checkpoint other than the committed one would write rows again.
            let lines = sharedLines.update()
            #expect(lines <= expected[filesPipeline]!, "\(lines) lines for \(expected[filesPipeline]!) rows in the source")
            var killed = false
            var allDone = true
            for pipeline in pipelines.shuffled() {
                let committed = seen[pipeline]?.offset ?? 0, total = size(input(pipeline))
                if committed < total { allDone = false }
                guard committed > 0, committed < total, let node = seen[pipeline]?.holder,
                      let daemon = daemons.first(where: { $0.node == node }) else { continue }
                if !sawElsewhere {
                    // The other daemons try to claim it every second: ask each for up to 1.5 s
                    // (a load is first killed as soon as it commits once, sooner than their next
                    // try once loads got fast), then kill only if the load is still mid-way.
                    let until = Date().addingTimeInterval(1.5)
                    repeat {
                        sawElsewhere = daemons.contains { other in
                            guard other.node != node,
                                  let base = try? HTTP.daemonAddress(stateDirectory: "\(dir)/state-\(other.index)", process: other.process, timeout: 2),
                                  let (_, v) = try? HTTP.json(base + "/api/pipelines"),
                                  let list = (v as? [String: Any])?["pipelines"] as? [[String: Any]] else { return false }
                            return list.contains { ($0["name"] as? String) == pipeline && ($0["state"] as? String) == "elsewhere" && ($0["running_on"] as? String) == node }
                        }
                        if !sawElsewhere { Thread.sleep(forTimeInterval: 0.1) }
                    } while !sawElsewhere && Date() < until
                    let now = Self.observe([pipeline])[pipeline]
                    guard let now, now.offset < size(input(pipeline)), now.holder == node else { continue }
                }
                Thread.sleep(forTimeInterval: Double.random(in: 0...0.1))
                killedLogs.append(try daemon.killAndRestart())
                kills += 1
                killed = true
                break
            }
            if !killed && allDone {
                for pipeline in pipelines { try grow(pipeline, by: pipeline == filesPipeline ? initialRows / 2 : initialRows) }
            }
        }
        let killPhase = (kills: kills, seconds: Int(Date().timeIntervalSince(deadline) + 300))

        // Every pipeline keeps running: what is left, and rows appended now, all land.
        for pipeline in pipelines { try grow(pipeline, by: TestScale.rows(5_000)) }
        let settle = Date().addingTimeInterval(240)
        while Date() < settle && !pipelines.allSatisfy({ loaded($0) >= expected[$0]! }) { Thread.sleep(forTimeInterval: 1) }
        for pipeline in pipelines { #expect(loaded(pipeline) == expected[pipeline]!, "\(pipeline): \(loaded(pipeline)) of \(expected[pipeline]!)") }

        var logs: [String] = []
        for d in daemons {
            let result = d.stop(timeLimit: 60)
            #expect(result.status == 0, "daemon \(d.node): \(result.log.suffix(2000))")
            logs.append(result.log)
        }
        let problems = (logs + killedLogs).flatMap { $0.split(separator: "\n") }.filter { $0.contains("error") || $0.contains("warning") }
        #expect(killPhase.kills == wantedKills,
                "only \(killPhase.kills) of \(wantedKills) kills landed mid-load in \(killPhase.seconds) s; errors logged: \(problems.suffix(20).joined(separator: "\n"))")
        #expect(sawElsewhere, "no daemon's status showed a pipeline running on another daemon")
        #expect((logs + killedLogs).contains { $0.contains("running on another daemon") }, "no daemon waited for another")

        for l in loads {
            try PG.verifyLoad(l.table, rows: expected[l.name]!, sum: Self.sum(input(l.name)), source: input(l.name))
        }
        // The shared JSONL file: every source row once (timestamps are unique in the source), the
        // same sum of counts.
        var stamps = Set<String>()
        var total: Int64 = 0
        for line in Sluice.lines(sharedOutput) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            stamps.insert(try #require(object["timestamp"] as? String))
            total += Int64(try #require(object["count"] as? Int))
        }
        #expect(Sluice.lines(sharedOutput).count == expected[filesPipeline]!)
        #expect(stamps.count == expected[filesPipeline]!)
        #expect(total == Self.sum(input(filesPipeline)))
        // …and its checkpoint is the one in PostgreSQL, where every daemon found it.
        let committed = try PG.psql("SELECT (checkpoint->>'sequence')::bigint > 0 FROM sluice_checkpoints WHERE pipeline = '\(filesPipeline)'")
        #expect(committed == "t", "no checkpoint of \(filesPipeline) in sluice_checkpoints")
    }
}
