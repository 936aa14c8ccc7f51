import Foundation
import Testing
import TestSupport

/// Exec plugins under `sluice run`: one that works, and ones that crash, hang and print garbage,
/// side by side. The broken ones are reported (with their standard error) and restarted with
/// backoff; the good one keeps loading; the daemon stays up and ends cleanly, leaving no plugin
/// process behind.
@Suite(.blockingWork, .serialized) struct ExecDaemonTests {
    static let python = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/bin/python3"
    static let plugins = Sluice.root + "/Tests/ConnectorsTests/Exec/test_plugins.py"

    static func pipeline(_ name: String, _ arguments: [String], dir: String, timeout: String = "30s") -> String {
        let command = ([python, plugins] + arguments).map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            [pipeline]
            name = "\(name)"
            schedule = "every 1s"
            retry_max_delay = "2s"
            [source]
            type = "exec"
            command = [\(command)]
            timeout = "\(timeout)"
            shutdown_timeout = "2s"
            [sink]
            type = "jsonl"
            path = "\(dir)/out/\(name).jsonl"
            """
    }

    @Test func brokenPluginsAreReportedAndRestartedWhileTheDaemonAndTheGoodOneGoOn() throws {
        let dir = try Sluice.tempDir("exec-daemon")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let marker = "sluice-exec-daemon-\(UUID().uuidString.prefix(8))"
        try Sluice.write(Self.pipeline("good", ["numbers", "10", marker], dir: dir), to: "\(dir)/conf/good.toml")
        try Sluice.write(Self.pipeline("crashing", ["crash", marker], dir: dir), to: "\(dir)/conf/crashing.toml")
        try Sluice.write(Self.pipeline("hanging", ["hang", marker], dir: dir, timeout: "1s"), to: "\(dir)/conf/hanging.toml")
        try Sluice.write(Self.pipeline("garbage", ["garbage", marker], dir: dir), to: "\(dir)/conf/garbage.toml")
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        let base = try HTTP.daemonAddress(stateDirectory: "\(dir)/state", process: p, output: collected)

        var pipelines: [String: [String: Any]] = [:]
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let (_, v) = try HTTP.json(base + "/api/pipelines")
            let list = (v as? [String: Any])?["pipelines"] as? [[String: Any]] ?? []
            pipelines = Dictionary(uniqueKeysWithValues: list.compactMap { p in (p["name"] as? String).map { ($0, p) } })
            let failures = ["crashing", "hanging", "garbage"].map { pipelines[$0]?["consecutive_failures"] as? Int ?? 0 }
            if pipelines["good"]?["total_records"] as? Int == 10, failures.allSatisfy({ $0 >= 2 }) { break }
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(p.isAlive, "the daemon is down")
        #expect(pipelines["good"]?["total_records"] as? Int == 10)
        #expect(pipelines["good"]?["consecutive_failures"] as? Int == 0)
        for (name, evidence) in [("crashing", "exited with status 3; its standard error ended with: boom: the machine's database went away"), ("hanging", "waiting for a lock that never comes"), ("garbage", "Traceback (most recent call last)")] {
            let error = pipelines[name]?["last_error"] as? String ?? ""
            #expect((pipelines[name]?["consecutive_failures"] as? Int ?? 0) >= 2, "\(name) was not restarted: \(pipelines[name] ?? [:])")
            #expect(error.contains(evidence), "\(name): \(error)")
        }
        #expect((pipelines["hanging"]?["last_error"] as? String ?? "").contains("sent nothing for 1 s; it was killed"))

        let stopping = Date()
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 30)
        print("the daemon ended \(String(format: "%.1f", Date().timeIntervalSince(stopping))) s after SIGTERM")
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let lines = try String(contentsOfFile: "\(dir)/out/good.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 10, "the good plugin's records were loaded \(lines.count) times, not once")
        Thread.sleep(forTimeInterval: 0.5)
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: cmdline, as: UTF8.self).contains(marker)
        }
        #expect(left.isEmpty, "plugin processes left after the daemon ended: \(left)")
    }
}
