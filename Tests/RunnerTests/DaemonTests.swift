import ConnectorKit
import Foundation
import MachineSimulator
import Testing
import TestSupport

/// `sluice run` as a process: schedules, `after`, and files that cannot start.
@Suite(.blockingWork) struct DaemonTests {
    /// The fleet's order: `maintenance` has `after = ["vehicles"]` and so runs only once vehicles'
    /// run has committed. A pipeline naming an unknown upstream and a file that does not parse are
    /// reported; the daemon starts the others.
    @Test func afterRunsInOrderAndBrokenFilesDoNotStopTheDaemon() throws {
        let dir = try Sluice.tempDir("after")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MachineSimulator(style: .linux, seed: 3).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 200, mode: .append)
        func pipeline(_ name: String, _ settings: String) -> String {
            """
            [pipeline]
            name = "\(name)"
            \(settings)
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
            [sink]
            type = "jsonl"
            path = "\(dir)/out-\(name).jsonl"
            """
        }
        try Sluice.write(pipeline("vehicles", "schedule = \"every 1s\""), to: "\(dir)/conf/vehicles.toml")
        try Sluice.write(pipeline("maintenance", "after = [\"vehicles\"]"), to: "\(dir)/conf/maintenance.toml")
        try Sluice.write(pipeline("orphan", "after = [\"nowhere\"]"), to: "\(dir)/conf/orphan.toml")
        try Sluice.write("[pipeline\nname = ", to: "\(dir)/conf/broken.toml")
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        let deadline = Date().addingTimeInterval(30)
        while Sluice.lines("\(dir)/out-maintenance.jsonl").count < 200 && p.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 30)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Sluice.lines("\(dir)/out-vehicles.jsonl").count == 200)
        #expect(Sluice.lines("\(dir)/out-maintenance.jsonl").count == 200)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out-orphan.jsonl"))
        #expect(result.stderr.contains("'nowhere'"), "the unknown upstream is not reported: \(result.stderr)")
        #expect(result.stderr.contains("broken.toml"), "the broken file is not reported: \(result.stderr)")
        // The first committed run of maintenance comes after vehicles' first one.
        let log = result.stderr.split(separator: "\n")
        let vehiclesFirst = log.firstIndex { $0.contains("run finished") && $0.contains("pipeline=vehicles") }
        let maintenanceFirst = log.firstIndex { $0.contains("run finished") && $0.contains("pipeline=maintenance") }
        #expect(vehiclesFirst != nil && maintenanceFirst != nil, "\(result.stderr)")
        if let v = vehiclesFirst, let m = maintenanceFirst { #expect(v < m) }
    }
}

extension DaemonTests {
    /// SIGHUP (through `sluice reload`) while a long load runs: an added pipeline starts, a removed
    /// one stops, a changed one restarts with its new settings, a file made invalid keeps its old
    /// version running, a new invalid file is reported; the load in flight is not disturbed and
    /// loads every row exactly once.
    @Test func reloadSwapsWhatChangedAndLeavesTheRest() throws {
        let dir = try Sluice.tempDir("reload")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bigRows = TestScale.rows(1_000_000)  // 100,000 under the sanitizers: their runs are several times slower
        try MachineSimulator(style: .linux, seed: 5).write(path: "\(dir)/big/line-01/data.csv", machine: "line-01", totalRows: bigRows, mode: .append)
        let small = MachineSimulator(style: .linux, seed: 6)
        try small.write(path: "\(dir)/small/line-02/data.csv", machine: "line-02", totalRows: 100, mode: .append)
        func pipeline(_ name: String, input: String = "small", output: String? = nil) -> String {
            """
            [pipeline]
            name = "\(name)"
            schedule = "every 1s"
            commit_rows = 20000
            \(Sluice.simulatorInput("\(dir)/\(input)", requiredTimestamp: false).replacingOccurrences(of: "path = \"\(dir)/\(input)/in\"", with: "path = \"\(dir)/\(input)\""))
            [sink]
            type = "jsonl"
            path = "\(dir)/out-\(output ?? name).jsonl"
            """
        }
        let conf = "\(dir)/conf"
        try Sluice.write(pipeline("loader", input: "big"), to: "\(conf)/loader.toml")
        for name in ["keep", "gone", "changed", "later-broken"] { try Sluice.write(pipeline(name), to: "\(conf)/\(name).toml") }
        let state = "\(dir)/state"
        let (p, out, err) = try Sluice.start(["run", "--config-dir", conf, "--state-dir", state])
        let collected = Sluice.collect(out, err)
        func lines(_ name: String) -> Int { Sluice.lines("\(dir)/out-\(name).jsonl").count }
        func waitFor(_ seconds: Double = 60, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && p.isAlive {
                if condition() { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return condition()
        }
        #expect(waitFor { ["keep", "gone", "changed", "later-broken"].allSatisfy { lines($0) == 100 } && lines("loader") > 0 })

        try Sluice.write(pipeline("added"), to: "\(conf)/added.toml")
        try FileManager.default.removeItem(atPath: "\(conf)/gone.toml")
        try Sluice.write(pipeline("changed", output: "changed-2"), to: "\(conf)/changed.toml")
        try Sluice.write("[pipeline\nname = \"later-broken\"", to: "\(conf)/later-broken.toml")
        try Sluice.write("[sink]\ntype = \"nope\"", to: "\(conf)/broken-new.toml")
        let loaderAtReload = lines("loader")
        let reload = try Sluice.run(["reload", "--state-dir", state])
        #expect(reload.status == 1, "errors in two files: \(reload.stdout) \(reload.stderr)")
        #expect(reload.stdout.contains("added added") && reload.stdout.contains("removed gone") && reload.stdout.contains("changed changed"), "\(reload.stdout)")
        #expect(reload.stderr.contains("later-broken.toml") && reload.stderr.contains("broken-new.toml"), "\(reload.stderr)")
        #expect(loaderAtReload < bigRows, "the load was not in flight at the reload")

        // New rows reach every pipeline that runs, in its current version.
        try small.write(path: "\(dir)/small/line-02/data.csv", machine: "line-02", totalRows: 150, mode: .append)
        #expect(waitFor { lines("keep") == 150 && lines("added") == 150 && lines("changed-2") == 50 && lines("later-broken") == 150 },
                "keep \(lines("keep")), added \(lines("added")), changed-2 \(lines("changed-2")), later-broken \(lines("later-broken"))")
        #expect(waitFor { lines("loader") == bigRows }, "loader: \(lines("loader")) of \(bigRows)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(lines("gone") == 100, "the removed pipeline kept running")
        #expect(lines("changed") == 100, "the old version of the changed pipeline kept running")
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 30)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("configuration reloaded"), "\(result.stderr)")
        // Exactly once: every row of the big file, none twice.
        let loaded = Sluice.lines("\(dir)/out-loader.jsonl")
        #expect(loaded.count == bigRows && Set(loaded).count == bigRows)
        #expect(DaemonTests.pidFileGone(state))
    }

    static func pidFileGone(_ state: String) -> Bool { !FileManager.default.fileExists(atPath: "\(state)/.daemon/sluice.pid") }
}

extension DaemonTests {
    /// `on_failure`: a webhook (a local HTTP server) and a command hear failing, degraded and
    /// recovered once each, however many retries happen in between.
    @Test func alertsOncePerChangeOfState() throws {
        let dir = try Sluice.tempDir("alerts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MachineSimulator(style: .linux, seed: 3).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 20, mode: .append)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-c", """
            import http.server, sys
            out = open(sys.argv[1], 'a')
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    out.write(body.decode() + "\\n"); out.flush()
                    self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """, "\(dir)/posts.jsonl"]
        let serverOut = ProcessLaunch.pipe()
        server.standardOutput = serverOut
        server.standardError = FileHandle.nullDevice // never the test runner's own output
        try ProcessLaunch.run(server)
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitForEnd()
        }
        let port = String(decoding: serverOut.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(port) != nil, "the webhook server did not start")
        // Where the sink's folder should be there is a file: every run fails until it is gone.
        try Sluice.write("not a folder", to: "\(dir)/blocked")
        try Sluice.write("""
            [pipeline]
            name = "press"
            schedule = "every 1s"
            retry_max_delay = "200ms"
            [pipeline.on_failure]
            webhook = "http://127.0.0.1:\(port)/hook"
            command = ["/bin/sh", "-c", "echo $SLUICE_PIPELINE $SLUICE_STATE $SLUICE_FAILURES >> \(dir)/states.txt"]
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
            [sink]
            type = "jsonl"
            path = "\(dir)/blocked/out.jsonl"
            """, to: "\(dir)/conf/press.toml")
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        func states() -> [String] { Sluice.lines("\(dir)/states.txt").map { String($0.split(separator: " ")[1]) } }
        func waitFor(_ seconds: Double = 30, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline { if condition() { return true }; Thread.sleep(forTimeInterval: 0.05) }
            return condition()
        }
        #expect(waitFor { states() == ["failing", "degraded"] }, "\(states())")
        Thread.sleep(forTimeInterval: 1) // more failed retries: no more alerts
        #expect(states() == ["failing", "degraded"])
        try FileManager.default.removeItem(atPath: "\(dir)/blocked")
        #expect(waitFor { states() == ["failing", "degraded", "recovered"] }, "\(states())")
        #expect(waitFor { Sluice.lines("\(dir)/posts.jsonl").count == 3 })
        kill(p.processIdentifier, SIGTERM)
        #expect(Sluice.finish(p, collected, timeLimit: 30).status == 0)
        let posts = Sluice.lines("\(dir)/posts.jsonl").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(posts.map { $0["state"] as? String } == ["failing", "degraded", "recovered"])
        #expect(posts.allSatisfy { $0["pipeline"] as? String == "press" })
        #expect((posts.first?["error"] as? String)?.isEmpty == false, "the failing alert carries the error")
        #expect(Sluice.lines("\(dir)/blocked/out.jsonl").count == 20)
    }
}

extension DaemonTests {
    /// `[daemon.on_failure]` in sluice.toml alerts for a pipeline without an on_failure of its
    /// own; a reload is counted in /metrics with its result, and the HTTP listener stays where it was.
    @Test func globalAlertsAndReloadsFromTheSettingsFile() throws {
        let dir = try Sluice.tempDir("global-alerts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MachineSimulator(style: .linux, seed: 4).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 10, mode: .append)
        try Sluice.write("not a folder", to: "\(dir)/blocked")
        try Sluice.write("""
            [daemon]
            log_format = "json"
            [daemon.on_failure]
            command = ["/bin/sh", "-c", "echo $SLUICE_PIPELINE $SLUICE_STATE >> \(dir)/states.txt"]
            """, to: "\(dir)/sluice.toml")
        try Sluice.write("""
            [pipeline]
            name = "press"
            schedule = "every 1s"
            retry_max_delay = "200ms"
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
            [sink]
            type = "jsonl"
            path = "\(dir)/blocked/out.jsonl"
            """, to: "\(dir)/conf/press.toml")
        // No --settings: sluice.toml beside the config folder is read.
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        let base = try HTTP.daemonAddress(stateDirectory: "\(dir)/state", process: p, output: collected)
        try DaemonHTTPTests.waitUntil(30, "the global alert") { Sluice.lines("\(dir)/states.txt").first == "press failing" }
        try FileManager.default.removeItem(atPath: "\(dir)/blocked")
        try DaemonHTTPTests.waitUntil(30, "recovered") { Sluice.lines("\(dir)/states.txt").last == "press recovered" }

        let reload = try Sluice.run(["reload", "--state-dir", "\(dir)/state"])
        #expect(reload.status == 0, "\(reload.stderr)")
        let address = try String(contentsOfFile: "\(dir)/state/.daemon/http-address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect("http://" + address == base, "the listener moved on reload")
        let metrics = try HTTP.get(base + "/metrics").body
        #expect(metrics.contains("sluice_reloads_total{result=\"ok\"} 1"), "\(metrics.prefix(3000))")
        #expect(metrics.contains("sluice_last_reload_success 1"))
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 30)
        #expect(result.status == 0)
        // log_format = "json": every line of the log is a JSON object.
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count >= 3, "\(result.stderr.prefix(1000))")
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })
        #expect(lines.contains { $0.contains("\"msg\":\"configuration reloaded: nothing changed\"") }, "\(lines)")
    }
}

extension DaemonTests {
    /// A SIGTERM that arrives while the daemon starts (systemd stopping it just after a start) is
    /// a drain and exit status 0, not death by the signal: the first runs start before the
    /// service group does, and the daemon traps the signal before either. Sent as soon as the
    /// daemon has claimed its state folder, so it lands while the pipeline files are read and the
    /// first runs start.
    @Test func aStopSentWhileTheDaemonStartsIsADrainNotADeath() throws {
        let dir = try Sluice.tempDir("early-stop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MachineSimulator(style: .linux, seed: 4).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 2_000, mode: .append)
        for i in 1...8 {
            try Sluice.write("""
                [pipeline]
                name = "line\(i)"
                schedule = "every 1s"
                \(Sluice.simulatorInput(dir, requiredTimestamp: false))
                [sink]
                type = "jsonl"
                path = "\(dir)/out-\(i).jsonl"
                """, to: "\(dir)/conf/line\(i).toml")
        }
        for round in 1...5 {
            let state = "\(dir)/state-\(round)"
            let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", state])
            let collected = Sluice.collect(out, err)
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: "\(state)/.daemon/sluice.pid") && p.isAlive && Date() < deadline { usleep(200) }
            kill(p.processIdentifier, SIGTERM)
            let result = Sluice.finish(p, collected, timeLimit: 60)
            #expect(result.status == 0, "round \(round): the daemon ended with \(result.status) (15: killed by the SIGTERM): \(result.stderr.suffix(2000))")
            if result.status != 0 { break }
        }
    }
}
