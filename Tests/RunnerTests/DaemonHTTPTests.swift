import ConnectorKit
import Foundation
import MachineSimulator
import Testing
import TestSupport

/// The daemon's HTTP side against real servers: /metrics checked by promtool and parsed by
/// prometheus_client with counts equal to the rows in PostgreSQL, /ready flipping when the
/// database goes away and comes back, /health answering 503 while a SIGTERM drains a batch in
/// flight, the JSON API, and the status page in headless Chromium.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct DaemonHTTPTests {
    static func waitUntil(_ seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("waited \(Int(seconds)) s: \(what)")
        throw HTTP.Failure(description: "timed out: \(what)")
    }

    /// The values of one metric in a scrape, by labels, as prometheus_client's parser reads them.
    static func parseMetrics(_ text: String) throws -> [[String: Any]] {
        let script = """
            import sys, json
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
            print(json.dumps(out))
            """
        let r = try ExternalTool.run(DuckDB.python, ["-c", script], input: text)
        guard r.status == 0 else { throw HTTP.Failure(description: "prometheus_client could not parse /metrics: \(r.output.suffix(1500))") }
        return try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [[String: Any]] ?? []
    }

    static func sample(_ samples: [[String: Any]], _ name: String, _ labels: [String: String]) -> Double? {
        samples.first { sample in
            let have = sample["labels"] as? [String: String] ?? [:]
            return (sample["name"] as? String) == name && labels.allSatisfy { have[$0.key] == $0.value }
        }?["value"] as? Double
    }

    /// "200 ×12, 503" for a list of answers.
    static func runLengths(_ answers: [String]) -> String {
        var runs: [(String, Int)] = []
        for a in answers {
            if runs.last?.0 == a { runs[runs.count - 1].1 += 1 } else { runs.append((a, 1)) }
        }
        return runs.map { $0.1 > 1 ? "\($0.0) ×\($0.1)" : $0.0 }.joined(separator: ", ")
    }

    @Test func metricsReadyAndAPIFollowARealLoadAndADatabaseThatGoesAway() throws {
        let own = (port: String(Int(PG.port)! + 3), dir: "/tmp/sluice-test-pg-ready")
        #expect(try PG.script("pg-start.sh", server: own) == 0)
        defer { _ = try? PG.script("pg-stop.sh", server: own); try? FileManager.default.removeItem(atPath: own.dir) }
        let rows = 30_000
        let (dir, table, _) = try PG.setUpLoad("http", rows: rows, commitRows: 10_000, port: own.port,
                                               pipelineExtra: "schedule = \"every 1s\"\nretry_max_delay = \"1s\"")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        let base = try HTTP.daemonAddress(stateDirectory: "\(dir)/state", process: p, output: collected)

        try Self.waitUntil(60, "all \(rows) rows in PostgreSQL") { try PG.psql("SELECT count(*) FROM \"\(table)\"", port: own.port) == "\(rows)" }
        try Self.waitUntil(10, "a finished run in the status") {
            let (_, v) = try HTTP.json(base + "/api/pipelines")
            return (((v as? [String: Any])?["pipelines"] as? [[String: Any]])?.first?["total_records"] as? Int) == rows
        }
        // /metrics: promtool's linter passes it, and prometheus_client reads the rows PostgreSQL holds.
        let scrape = try HTTP.get(base + "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.contentType.hasPrefix("text/plain; version=0.0.4"))
        let promtool = ExternalTool.path("promtool")
        #expect(promtool != nil || !PG.required, "promtool is missing (Debian package prometheus; scripts/setup.sh installs it)")
        if let promtool {
            let check = try ExternalTool.run(promtool, ["check", "metrics"], input: scrape.body)
            #expect(check.status == 0, "promtool check metrics: \(check.output)\n\(scrape.body.prefix(3000))")
        }
        let samples = try Self.parseMetrics(scrape.body)
        let inTable = try Double(PG.psql("SELECT count(*) FROM \"\(table)\"", port: own.port))
        #expect(Self.sample(samples, "sluice_records_written_total", ["pipeline": "pg_http"]) == inTable)
        #expect(Self.sample(samples, "sluice_records_read_total", ["pipeline": "pg_http"]) == inTable)
        #expect((Self.sample(samples, "sluice_commits_total", ["pipeline": "pg_http"]) ?? 0) >= 3)
        #expect(Self.sample(samples, "sluice_pipeline_state", ["pipeline": "pg_http", "state": "degraded"]) == 0)
        let successes = Self.sample(samples, "sluice_runs_total", ["pipeline": "pg_http", "outcome": "success"]) ?? 0
        let timed = Self.sample(samples, "sluice_run_duration_seconds_count", ["pipeline": "pg_http"]) ?? -1
        #expect(successes >= 1 && timed >= successes, "runs \(successes), timed \(timed)")
        #expect((Self.sample(samples, "sluice_last_success_timestamp_seconds", ["pipeline": "pg_http"]) ?? 0) > Date().timeIntervalSince1970 - 60)
        #expect(Self.sample(samples, "sluice_lag_seconds", ["pipeline": "pg_http"]) != nil)
        #expect((Self.sample(samples, "process_resident_memory_bytes", [:]) ?? 0) > 1_000_000)
        #expect(Self.sample(samples, "sluice_last_reload_success", [:]) == 1)

        // The JSON API: the pipeline, its runs (newest first) adding up to the rows, an unknown name.
        let runs = try HTTP.json(base + "/api/pipelines/pg_http/runs")
        #expect(runs.status == 200)
        let list = (runs.value as? [String: Any])?["runs"] as? [[String: Any]] ?? []
        #expect(list.compactMap { $0["records"] as? Int }.reduce(0, +) == rows)
        #expect(list.allSatisfy { ($0["succeeded"] as? Bool) == true })
        #expect(try HTTP.get(base + "/api/pipelines/no-such-pipeline/runs").status == 404)
        #expect(try HTTP.get(base + "/health").status == 200)
        let ready = try HTTP.json(base + "/ready")
        #expect(ready.status == 200, "\(ready.value)")

        // The database goes away for 45 s (its data kept): the pipeline fails, /ready answers 503
        // and says why. (Under ThreadSanitizer beside every other suite, a failed run was once
        // recorded only after a 25 s outage had ended.)
        let outage = Process()
        outage.executableURL = URL(fileURLWithPath: "/bin/bash")
        outage.arguments = ["\(Sluice.root)/scripts/pg-restart.sh", "45", "fast"]
        outage.environment = ProcessInfo.processInfo.environment.merging(["SLUICE_PG_PORT": own.port, "SLUICE_PG_DIR": own.dir]) { $1 }
        outage.standardOutput = FileHandle.nullDevice
        try ProcessLaunch.run(outage)
        // No child process may be waited for until it ends (see TCPProbe): the server is
        // probed with a TCP connect, /ready over a plain socket.
        var events = ["outage started \(Date())"]
        try Self.waitUntil(10, "the server down") { !TCPProbe.listening(port: Int(own.port)!) }
        events.append("server down \(Date())")
        try MachineSimulator(style: .linux, seed: 11).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: rows + 500, mode: .append)
        events.append("appended \(Date())")
        // The reasons of the first 503 (the server may be back by a later call).
        var reasons: [[String: Any]] = []
        var answers: [String] = []  // what /ready answered, for the failure message
        let waitLimit = Date().addingTimeInterval(50)
        while Date() < waitLimit {
            do {
                let r = try HTTP.get(base + "/ready")
                answers.append("\(r.status) \(r.body)")
                if r.status == 503 {
                    let value = try JSONSerialization.jsonObject(with: Data(r.body.utf8))
                    reasons = (value as? [String: Any])?["reasons"] as? [[String: Any]] ?? []
                    break
                }
            } catch {
                answers.append("\(error)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        if reasons.isEmpty {
            let listing = (try? HTTP.get(base + "/api/pipelines").body) ?? "no answer"
            let listeners = (try? ExternalTool.run("/usr/bin/ss", ["-ltnp"]).output) ?? ""
            Issue.record("events: \(events.joined(separator: "; ")); loop ended \(Date())")
            Issue.record("at \(base) (daemon pid \(p.processIdentifier)) /api/pipelines said: \(listing)\nlisteners: \(listeners)")
            kill(p.processIdentifier, SIGTERM)
            let log = Sluice.finish(p, collected, timeLimit: 30).stderr
            Issue.record("/ready never answered 503 while the database was down; it answered \(Self.runLengths(answers)); the daemon logged:\n\(log.suffix(6000))")
            outage.waitForEnd()
            return
        }
        #expect(reasons.contains { ($0["name"] as? String) == "pg_http" && ["failing", "degraded"].contains($0["state"] as? String ?? "") },
                "\(reasons)")
        #expect(try HTTP.get(base + "/health").status == 200, "liveness does not depend on the pipelines")
        let failing = try Self.parseMetrics(try HTTP.get(base + "/metrics").body)
        #expect((Self.sample(failing, "sluice_runs_total", ["pipeline": "pg_http", "outcome": "failure"]) ?? 0) >= 1)
        #expect(Self.sample(failing, "sluice_consecutive_failures", ["pipeline": "pg_http"]) != nil)

        // It comes back: the next retry loads the new rows and /ready is 200 again.
        let status = outage.waitForEnd()
        #expect(status == 0)
        try Self.waitUntil(60, "/ready answering 200 again") { try HTTP.get(base + "/ready").status == 200 }
        try Self.waitUntil(30, "the appended rows") { try PG.psql("SELECT count(*) FROM \"\(table)\"", port: own.port) == "\(rows + 500)" }
        let after = try Self.parseMetrics(try HTTP.get(base + "/metrics").body)
        #expect(Self.sample(after, "sluice_records_written_total", ["pipeline": "pg_http"]) == Double(rows + 500))

        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 30)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/state/.daemon/http-address"))
        let distinct = try PG.psql("SELECT count(DISTINCT \"timestamp\") FROM \"\(table)\"", port: own.port)
        #expect(distinct == "\(rows + 500)", "a row was duplicated")
    }

    /// SIGTERM while a COPY is provably in flight through a slowed connection: /health answers
    /// 503 while the batch finishes, the daemon exits 0, and the table holds exactly what the
    /// committed checkpoint covers; a rerun completes the load with no duplicate.
    @Test func healthAnswers503WhileDraining() throws {
        let proxy = try FaultProxy(upstreamPort: Int(PG.port)!)
        defer { proxy.stop() }
        let rows = 200_000
        let (dir, table, sum) = try PG.setUpLoad("drain", rows: rows, commitRows: 50_000, port: String(proxy.port),
                                                 pipelineExtra: "schedule = \"every 1m\"")
        defer { PG.dropLoad(table, pipeline: "pg_drain"); try? FileManager.default.removeItem(atPath: dir) }
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        let base = try HTTP.daemonAddress(stateDirectory: "\(dir)/state", process: p, output: collected)
        // Data is flowing to the server; slow it so the batch in flight takes seconds.
        try Self.waitUntil(60, "the COPY under way") { proxy.bytes.upstream > 200_000 }
        proxy.setMode(.slow(bytesPerSecond: 300_000))
        kill(p.processIdentifier, SIGTERM)
        var sawDraining = false
        var healthBody = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && p.isAlive && !sawDraining {
            if let r = try? HTTP.get(base + "/health", timeout: 2), r.status == 503 {
                sawDraining = true
                healthBody = r.body
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(sawDraining, "/health never answered 503 during the drain")
        #expect(healthBody.contains("\"draining\""))
        if sawDraining {
            let ready = try? HTTP.get(base + "/ready", timeout: 2)
            #expect(ready?.status == 503 || ready == nil)
        }
        proxy.setMode(.pass)
        let result = Sluice.finish(p, collected, timeLimit: 60)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let committed = try PG.psql("SELECT count(*) FROM \"\(table)\"")
        #expect(Int(committed) ?? 0 < rows, "the drain loaded everything (\(committed)): nothing was in flight")
        #expect(try Sluice.run(["once", "pg_drain", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"]).status == 0)
        try PG.verifyLoad(table, rows: rows, sum: sum, port: String(proxy.port))
    }
}

/// The status page in a real browser: Debian's Chromium, headless, running the page's script.
@Suite(.blockingWork) struct StatusPageBrowserTests {
    static var chromium: String? { ExternalTool.path("chromium") ?? ExternalTool.path("chromium-browser") }
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"

    static func browserArguments(_ extra: [String]) -> [String] {
        // As root (CI containers) Chromium refuses to start without --no-sandbox.
        ["--headless", "--disable-gpu", "--no-first-run", "--user-data-dir=" + NSTemporaryDirectory() + "sluice-test-chromium-\(getpid())"]
            + (getuid() == 0 ? ["--no-sandbox"] : []) + extra
    }

    /// The page's table after its script ran (`--dump-dom` prints the live DOM).
    static func renderedRows(_ url: String) throws -> String {
        let r = try ExternalTool.run(chromium!, browserArguments(["--virtual-time-budget=4000", "--dump-dom", url]), timeout: 60)
        guard let start = r.output.range(of: "<tbody id=\"rows\">"), let end = r.output.range(of: "</tbody>", range: start.upperBound..<r.output.endIndex) else {
            throw HTTP.Failure(description: "no table in the page: \(r.output.suffix(1500))")
        }
        return String(r.output[start.upperBound..<end.lowerBound])
    }

    @Test func pageShowsEveryPipelineAndUpdatesAfterARun() throws {
        guard Self.chromium != nil else {
            #expect(!Self.required, "chromium is missing (scripts/setup.sh installs it)")
            return
        }
        let dir = try Sluice.tempDir("page")
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "sluice-test-chromium-\(getpid())") }
        let sim = MachineSimulator(style: .linux, seed: 21)
        try sim.write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 120, mode: .append)
        for (name, extra) in [("press-hall", "schedule = \"every 1s\""), ("nightly-copy", "after = [\"press-hall\"]")] {
            try Sluice.write("""
                [pipeline]
                name = "\(name)"
                \(extra)
                \(Sluice.simulatorInput(dir, requiredTimestamp: false))
                [sink]
                type = "jsonl"
                path = "\(dir)/out-\(name).jsonl"
                """, to: "\(dir)/conf/\(name).toml")
        }
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        let base = try HTTP.daemonAddress(stateDirectory: "\(dir)/state", process: p, output: collected)
        try DaemonHTTPTests.waitUntil(30, "the first load") { Sluice.lines("\(dir)/out-press-hall.jsonl").count == 120 }

        let page = try HTTP.get(base + "/")
        #expect(page.status == 200 && page.contentType.hasPrefix("text/html"))
        // Air-gapped LAN: nothing is fetched from anywhere but the daemon itself.
        #expect(!page.body.contains("http://") && !page.body.contains("https://") && !page.body.contains("src="))
        let first = try Self.renderedRows(base + "/")
        #expect(first.contains("data-pipeline=\"press-hall\"") && first.contains("data-pipeline=\"nightly-copy\""), "\(first)")
        #expect(first.contains("/ 120</td>"), "the total rows of press-hall: \(first)")
        #expect(first.contains("class=\"loaded\""), "no loaded run in the history strip: \(first)")

        // The machine writes 80 more rows; after the next run the page shows 200.
        try sim.write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 200, mode: .append)
        try DaemonHTTPTests.waitUntil(30, "the second load") { Sluice.lines("\(dir)/out-press-hall.jsonl").count == 200 }
        try DaemonHTTPTests.waitUntil(30, "the page showing 200 rows") { try Self.renderedRows(base + "/").contains("/ 200</td>") }

        let shot = "\(dir)/status.png"
        let r = try ExternalTool.run(Self.chromium!, Self.browserArguments(["--window-size=1400,400", "--virtual-time-budget=4000",
                                                                            "--screenshot=\(shot)", base + "/"]), timeout: 60)
        let png = FileManager.default.contents(atPath: shot) ?? Data()
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 5000, "no screenshot: \(r.output.suffix(500))")
        if let keep = ProcessInfo.processInfo.environment["SLUICE_KEEP_SCREENSHOT"] { try? png.write(to: URL(fileURLWithPath: keep)) }
        kill(p.processIdentifier, SIGTERM)
        #expect(Sluice.finish(p, collected, timeLimit: 30).status == 0)
    }
}
