import ConnectorKit
import Foundation
import Logging
import PipelineLoader
import Prometheus
@testable import SluiceRuntime
@testable import SluiceServer
import Testing
import TestSupport

@Suite(.blockingWork) struct DaemonSettingsTests {
    @Test func settingsFileReadsEveryKey() throws {
        let s = try DaemonSettings.parse("""
            [daemon]
            listen = "0.0.0.0:9500"
            max_concurrent_runs = 8
            log_format = "json"
            [daemon.on_failure]
            webhook = "http://127.0.0.1:9000/hook"
            [daemon.cluster]
            url = "postgresql://sluice@db.plant.local/plant"
            password = "${CLUSTER_PW}"
            node = "line-a"
            """, file: "/etc/sluice/sluice.toml", environment: ["CLUSTER_PW": "s3cret"])
        #expect(s.cluster?.url == "postgresql://sluice@db.plant.local/plant")
        #expect(try s.cluster?.resolvedPassword(settingsFile: "/etc/sluice/sluice.toml") == "s3cret")
        #expect(s.cluster?.node == "line-a")
        #expect(s.listen == ListenAddress(host: "0.0.0.0", port: 9500))
        #expect(s.maxConcurrentRuns == 8)
        #expect(s.logFormat == .json)
        #expect(s.onFailure?.webhook == "http://127.0.0.1:9000/hook")
        #expect(try DaemonSettings.parse("", file: "x").listen == ListenAddress(host: "127.0.0.1", port: 9430), "loopback by default")
        #expect(try DaemonSettings.parse("[daemon]\nlisten = \"off\"", file: "x").listen == nil)
    }

    /// Each mistake names the file, the line and the key.
    @Test(arguments: [
        ("[daemon]\nlisten = \"9430\"", 2, "daemon.listen", "host:port"),
        ("[daemon]\n\nlisten = \"127.0.0.1:70000\"", 3, "daemon.listen", "0 to 65535"),
        ("[daemon]\nmax_concurrent_runs = 0", 2, "daemon.max_concurrent_runs", "between 1 and 256"),
        ("[daemon]\nlog_format = \"xml\"", 2, "daemon.log_format", "logfmt"),
        ("[daemon]\nlisten_on = \"127.0.0.1:1\"", 2, "daemon.listen_on", "unknown key"),
        ("[daemon]\n[daemon.on_failure]\nwebhook = \"ftp://x\"", 3, "daemon.on_failure.webhook", "http://"),
        ("[deamon]\nlisten = \"off\"", 1, "deamon", "unknown section"),
        ("[daemon.cluster]\nurl = \"postgresql://u:pw@db/plant\"", 2, "daemon.cluster.url", "holds a password"),
        ("[daemon.cluster]\nnode = \"x\"", 1, "daemon.cluster.url", "url"),
        ("[daemon.cluster]\nurl = \"postgresql://u@db/p\"\nnodes = \"x\"", 3, "daemon.cluster.nodes", "unknown key"),
    ])
    func settingsErrorsNameFileLineAndKey(text: String, line: Int, key: String, message: String) {
        do {
            _ = try DaemonSettings.parse(text, file: "/etc/sluice/sluice.toml")
            Issue.record("accepted: \(text)")
        } catch {
            let e = error.errors.first
            #expect(e?.file == "/etc/sluice/sluice.toml")
            #expect(e?.line == line, "\(error)")
            #expect(e?.keyPath == key, "\(error)")
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func listenAddresses() throws {
        #expect(try ListenAddress.parse("127.0.0.1:9430") == ListenAddress(host: "127.0.0.1", port: 9430))
        #expect(try ListenAddress.parse("[::1]:9430") == ListenAddress(host: "::1", port: 9430))
        #expect(try ListenAddress.parse("localhost:0") == ListenAddress(host: "localhost", port: 0))
        #expect(try ListenAddress.parse("off") == nil)
        for bad in ["9430", ":9430", "127.0.0.1:", "127.0.0.1:x", "::1:9430", "[::1]9430"] {
            #expect(throws: ListenAddress.Invalid.self, "\(bad)") { try ListenAddress.parse(bad) }
        }
    }
}

@Suite(.blockingWork) struct LineLogHandlerTests {
    final class Lines: Sendable {
        let lines = Locked<[String]>([])
        func append(_ s: String) { lines.withLock { $0.append(s) } }
    }

    func logger(_ format: LineLogHandler.Format, _ sink: Lines) -> Logger {
        var l = Logger(label: "sluice") { label in LineLogHandler(label: label, format: format, level: .info, write: sink.append) }
        l[metadataKey: "pipeline"] = "press-01"
        return l
    }

    @Test func logfmtQuotesOnlyWhatNeedsIt() throws {
        let sink = Lines()
        logger(.logfmt, sink).error("run failed: \"COPY\" cut\nretrying", metadata: ["failures": "3", "file": "C:\\Logs\\a b.txt"])
        logger(.logfmt, sink).debug("not shown")
        let lines = sink.lines.withLock { $0 }
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false, "one event, one line")
        #expect(line.contains(" level=error msg=\"run failed: \\\"COPY\\\" cut\\nretrying\" failures=3 file=\"C:\\\\Logs\\\\a b.txt\" pipeline=press-01"), "\(line)")
        #expect(line.hasPrefix("ts=20") && line.contains("Z level="), "\(line)")
    }

    @Test func jsonLinesParse() throws {
        let sink = Lines()
        logger(.json, sink).warning("naïve \u{1} \"quoted\"", metadata: ["rows": "12"])
        let line = try #require(sink.lines.withLock { $0.first })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["msg"] == "naïve \u{1} \"quoted\"")
        #expect(object["level"] == "warning")
        #expect(object["rows"] == "12")
        #expect(object["pipeline"] == "press-01")
        #expect(object["ts"]?.hasSuffix("Z") == true)
    }
}

@Suite(.blockingWork) struct StatusMetricsTests {
    /// The gauges follow the status: a removed pipeline's series disappear from the scrape.
    @Test func gaugesFollowAddedAndRemovedWorks() {
        let registry = PrometheusCollectorRegistry()
        let status = StatusRegistry()
        let state = DaemonState(status: status)
        let metrics = StatusMetrics(registry: registry)
        for name in ["press-01", "press-02"] {
            status.register(WorkStatus(name: name, kind: .pipeline, schedule: "every 1s", after: [], state: .waiting, nextRun: nil,
                                       lastSuccess: nil, consecutiveFailures: 0, runs: []))
        }
        status.record("press-01", RunRecord(started: Date(), ended: Date(), succeeded: true, records: 5, newestData: Date().addingTimeInterval(-30)))
        status.update("press-02") { $0.state = .degraded; $0.consecutiveFailures = 7 }
        metrics.refresh(state)
        var text = registry.emitToString()
        #expect(text.contains("sluice_pipeline_state{pipeline=\"press-02\",kind=\"pipeline\",state=\"degraded\"} 1.0"), "\(text)")
        #expect(text.contains("sluice_consecutive_failures{pipeline=\"press-02\",kind=\"pipeline\"} 7.0"))
        #expect(text.contains("sluice_lag_seconds{pipeline=\"press-01\""))
        #expect(text.contains("# HELP sluice_lag_seconds "))
        #expect(!text.contains("sluice_lag_seconds{pipeline=\"press-02\""), "no lag before any data")
        status.remove("press-02")
        metrics.refresh(state)
        text = registry.emitToString()
        #expect(!text.contains("press-02"), "\(text)")
        #expect(text.contains("press-01"))
    }

    @Test func processMetricsAreRead() {
        let text = ProcessMetrics.render()
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds"] {
            #expect(text.contains("\n\(name) ") || text.hasPrefix("\(name) "), "\(name) missing: \(text)")
        }
        let start = text.split(separator: "\n").first { $0.hasPrefix("process_start_time_seconds ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        #expect(abs(start - Date().timeIntervalSince1970) < 3600, "start time \(start)")
    }
}
