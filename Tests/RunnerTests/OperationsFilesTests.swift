import Foundation
import SluiceServer
import Testing
import TestSupport

/// The shipped operations files are checked by the tools that will read them: promtool for the
/// alert rules and the dashboard's queries, systemd-analyze for the unit; and every metric they
/// name is one the daemon exports.
@Suite(.blockingWork) struct OperationsFilesTests {
    static let examples = Sluice.root + "/examples"
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"

    /// `sluice_…` names in a PromQL expression, histogram suffixes removed.
    static func sluiceMetrics(in expr: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "sluice_[a-z_]+")
        let range = NSRange(expr.startIndex..., in: expr)
        return Set(pattern.matches(in: expr, range: range).map { m -> String in
            var name = String(expr[Range(m.range, in: expr)!])
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && MetricCatalog.help[name] == nil {
                name = String(name.dropLast(suffix.count))
            }
            return name
        })
    }

    func promtool() -> String? {
        let p = ExternalTool.path("promtool")
        #expect(p != nil || !Self.required, "promtool is missing (Debian package prometheus; scripts/setup.sh installs it)")
        return p
    }

    @Test func alertRulesPassPromtoolAndNameRealMetrics() throws {
        let file = Self.examples + "/prometheus/alerts.yml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let names = Self.sluiceMetrics(in: text)
        #expect(names.count >= 5)
        for name in names { #expect(MetricCatalog.help[name] != nil, "alerts.yml names \(name), which the daemon does not export") }
        guard let promtool = promtool() else { return }
        let r = try ExternalTool.run(promtool, ["check", "rules", file])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func grafanaDashboardQueriesParseAndNameRealMetrics() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.examples + "/grafana/sluice.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= panels.count)
        for expr in exprs {
            for name in Self.sluiceMetrics(in: expr) { #expect(MetricCatalog.help[name] != nil, "the dashboard queries \(name), which the daemon does not export") }
        }
        guard let promtool = promtool() else { return }
        // Each query as a recording rule: promtool parses the PromQL.
        let rules = "groups:\n  - name: dashboard\n    rules:\n" + exprs.enumerated().map { i, e in
            "      - record: dashboard_query_\(i)\n        expr: '\(e.replacingOccurrences(of: "$instance", with: ".*").replacingOccurrences(of: "'", with: "''"))'\n"
        }.joined()
        let file = NSTemporaryDirectory() + "sluice-dashboard-rules-\(getpid()).yml"
        try rules.write(toFile: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try ExternalTool.run(promtool, ["check", "rules", file])
        #expect(r.status == 0, "\(r.output)\n\(rules)")
    }

    @Test func systemdUnitVerifies() throws {
        let unit = try String(contentsOfFile: Self.examples + "/systemd/sluice.service", encoding: .utf8)
        for line in ["ExecReload=/usr/local/bin/sluice reload", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "ReadWritePaths=/var/lib/sluice", "User=sluice"] {
            #expect(unit.contains(line), "the unit lacks \(line)")
        }
        guard let analyze = ExternalTool.path("systemd-analyze") else {
            #expect(!Self.required, "systemd-analyze is missing")
            return
        }
        // verify wants the binaries it names to exist: point them at the one just built.
        let dir = NSTemporaryDirectory() + "sluice-unit-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try unit.replacingOccurrences(of: "/usr/local/bin/sluice", with: Sluice.binary).write(toFile: dir + "/sluice.service", atomically: false, encoding: .utf8)
        let r = try ExternalTool.run(analyze, ["verify", dir + "/sluice.service"])
        #expect(r.status == 0 && r.output.isEmpty, "\(r.output)")
        // And the settings file beside it is what the daemon reads.
        let settings = Self.examples + "/systemd/sluice.toml"
        let check = try Sluice.run(["run", "--settings", settings, "--config-dir", dir + "/empty", "--state-dir", dir + "/state", "--listen", "off"])
        #expect(check.stderr.contains("no scheduled pipeline"), "the sample sluice.toml did not load: \(check.stderr)")
    }
}
