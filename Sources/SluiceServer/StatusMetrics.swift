import Foundation
import Prometheus
import SluiceRuntime
import Synchronization

/// The gauges read from the daemon's status at each scrape: state per pipeline, last success,
/// lag, failures in a row, the last reload. Series of removed pipelines are unregistered, so a
/// scrape never shows a pipeline that is gone.
final class StatusMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private struct Key: Hashable { var name: String; var labels: [String] }
    private let gauges = Mutex<[Key: Gauge]>([:])

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func refresh(_ state: DaemonState, now: Date = Date()) {
        var values: [(name: String, labels: [(String, String)], value: Double)] = []
        let statuses = state.status.snapshot()
        for s in statuses {
            let base = [("pipeline", s.group ?? s.name)] + (s.host.map { [("host", $0)] } ?? []) + [("kind", s.kind.rawValue)]
            for candidate in [WorkState.waiting, .running, .elsewhere, .failing, .degraded, .stopped] {
                values.append(("sluice_pipeline_state", base + [("state", candidate.rawValue)], s.state == candidate ? 1 : 0))
            }
            values.append(("sluice_consecutive_failures", base, Double(s.consecutiveFailures)))
            if let t = s.lastSuccess { values.append(("sluice_last_success_timestamp_seconds", base, t.timeIntervalSince1970)) }
            if let newest = s.newestData {
                values.append(("sluice_newest_data_timestamp_seconds", base, newest.timeIntervalSince1970))
                values.append(("sluice_lag_seconds", base, s.lag(now: now) ?? 0))
            }
        }
        values.append(("sluice_scheduled", [], Double(statuses.count)))
        values.append(("sluice_draining", [], state.isDraining ? 1 : 0))
        if let r = state.lastReload {
            values.append(("sluice_last_reload_success", [], r.succeeded ? 1 : 0))
            values.append(("sluice_last_reload_timestamp_seconds", [], r.date.timeIntervalSince1970))
        }
        gauges.withLock { gauges in
            var seen = Set<Key>()
            for v in values {
                let key = Key(name: v.name, labels: v.labels.flatMap { [$0.0, $0.1] })
                seen.insert(key)
                let gauge = gauges[key] ?? {
                    let g = v.labels.isEmpty ? registry.makeGauge(descriptor: PrometheusBackend.descriptor(v.name))
                                             : registry.makeGauge(descriptor: PrometheusBackend.descriptor(v.name), labels: v.labels)
                    gauges[key] = g
                    return g
                }()
                gauge.set(v.value)
            }
            for (key, gauge) in gauges where !seen.contains(key) {
                registry.unregisterGauge(gauge)
                gauges[key] = nil
            }
        }
    }
}
