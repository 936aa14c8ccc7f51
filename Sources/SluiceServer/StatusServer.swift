import ConnectorKit
import Foundation
import Hummingbird
import Logging
import Prometheus
import SluiceRuntime

/// The daemon's HTTP side (Hummingbird): `/metrics`, `/health`, `/ready`, `/api/pipelines`,
/// `/api/pipelines/NAME/runs` and the status page at `/`. Bound once at start; reloads never
/// touch it. A lifecycle service: it stops last, after the scheduler drained.
public struct StatusServer: Sendable {
    let state: DaemonState
    let registry: PrometheusCollectorRegistry
    let statusMetrics: StatusMetrics
    let address: ListenAddressValue
    let logger: Logger
    let onListening: @Sendable (String) -> Void

    /// Host and port to bind (port 0: any free port, reported through `onListening`).
    public struct ListenAddressValue: Sendable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public init(state: DaemonState, registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger,
                onListening: @escaping @Sendable (String) -> Void = { _ in }) {
        self.state = state
        self.registry = registry
        statusMetrics = StatusMetrics(registry: registry)
        address = ListenAddressValue(host: host, port: port)
        self.logger = logger
        self.onListening = onListening
    }

    /// The Hummingbird application, to run as a service of the daemon's service group.
    public func application() -> some ApplicationProtocol {
        let router = Router()
        let state = state
        let registry = registry
        let statusMetrics = statusMetrics
        router.get("/") { _, _ in
            Self.response(.ok, StatusPage.html, type: "text/html; charset=utf-8")
        }
        router.get("/metrics") { _, _ in
            statusMetrics.refresh(state)
            var text = registry.emitToString()
            text += ProcessMetrics.render()
            return Self.response(.ok, text, type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/health") { _, _ in
            let uptime = Int(Date().timeIntervalSince(state.started))
            if state.isDraining {
                return Self.response(.serviceUnavailable, APIJSON.encode(HealthJSON(status: "draining", uptimeSeconds: uptime)))
            }
            return Self.response(.ok, APIJSON.encode(HealthJSON(status: "ok", uptimeSeconds: uptime)))
        }
        router.get("/ready") { _, _ in
            let reasons = state.notReadyReasons()
            return Self.response(reasons.isEmpty ? .ok : .serviceUnavailable, APIJSON.encode(ReadyJSON(ready: reasons.isEmpty, reasons: reasons)))
        }
        router.get("/api/pipelines") { _, _ in
            let now = Date()
            let list = PipelineListJSON(now: now, started: state.started, draining: state.isDraining, lastReload: state.lastReload.map(ReloadJSON.init),
                                        pipelines: state.status.snapshot().map { PipelineSummaryJSON($0, now: now) })
            return Self.response(.ok, APIJSON.encode(list))
        }
        router.get("/api/pipelines/:name/runs") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let s = state.status.status(of: name) else {
                return Self.response(.notFound, APIJSON.encode(["error": "no pipeline or job named '\(name)' is scheduled"]))
            }
            return Self.response(.ok, APIJSON.encode(RunsJSON(name: s.name, runs: s.runs.reversed().map(RunJSON.init))))
        }
        let onListening = onListening
        let logger = logger
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "sluice"),
            onServerRunning: { channel in
                let bound = channel.localAddress.map { a in
                    let host = a.ipAddress ?? "?"
                    return (host.contains(":") ? "[\(host)]" : host) + ":\(a.port ?? 0)"
                } ?? "?"
                logger.notice("status page at http://\(bound)/", metadata: ["listen": "\(bound)"])
                onListening(bound)
            },
            logger: logger
        )
    }

    static func response(_ status: HTTPResponse.Status, _ body: String, type: String = "application/json") -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
