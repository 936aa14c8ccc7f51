import ConnectorKit
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import PipelineLoader

/// A change of a pipeline's health, as alerts tell it.
public struct Alert: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case failing, degraded, recovered }
    public var pipeline: String
    public var state: State
    public var previous: String
    public var failures: Int
    public var error: String?
    public var time: Date
}

/// Follows one work's runs and tells its `on_failure` targets about each change of state:
/// healthy → failing (the first failure), failing → degraded, failing or degraded → recovered.
struct AlertTracker {
    private enum Health { case healthy, failing, degraded }
    private var health = Health.healthy
    let degradedAfter: Int

    init(degradedAfter: Int) { self.degradedAfter = degradedAfter }

    mutating func succeeded(_ name: String) -> Alert? {
        defer { health = .healthy }
        guard health != .healthy else { return nil }
        return Alert(pipeline: name, state: .recovered, previous: health == .failing ? "failing" : "degraded", failures: 0, error: nil, time: Date())
    }

    mutating func failed(_ name: String, failures: Int, error: String) -> Alert? {
        switch health {
        case .healthy:
            health = failures >= degradedAfter ? .degraded : .failing
            return Alert(pipeline: name, state: health == .degraded ? .degraded : .failing, previous: "healthy", failures: failures, error: error, time: Date())
        case .failing where failures >= degradedAfter:
            health = .degraded
            return Alert(pipeline: name, state: .degraded, previous: "failing", failures: failures, error: error, time: Date())
        default:
            return nil
        }
    }
}

/// Delivers alerts in the background (a pipeline never waits for them), each target tried up to
/// three times.
enum AlertSender {
    static func send(_ alert: Alert, to settings: AlertSettings, logger: Logger) {
        Task.detached {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = .sortedKeys
            guard let body = try? encoder.encode(alert) else { return }
            if let url = settings.webhook {
                await attempt("webhook", logger: logger) { try await post(body, to: url, timeout: settings.timeout.seconds) }
            }
            if let command = settings.command {
                await attempt("command \(command[0])", logger: logger) { try await run(command, alert: alert, body: body, timeout: settings.timeout.seconds) }
            }
        }
    }

    private static func attempt(_ what: String, logger: Logger, _ body: () async throws -> Void) async {
        for n in 1...3 {
            do {
                try await body()
                return
            } catch {
                logger.warning("alert \(what) failed (attempt \(n) of 3): \(error)")
                if n < 3 { try? await Task.sleep(for: .seconds(Double(n))) }
            }
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func post(_ body: Data, to url: String, timeout: Double) async throws {
        guard let u = URL(string: url) else { throw Failure(description: "bad URL") }
        var request = URLRequest(url: u, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        let status: Int = try await withCheckedThrowingContinuation { c in
            URLSession.shared.dataTask(with: request) { _, response, error in
                if let error { c.resume(throwing: error); return }
                c.resume(returning: (response as? HTTPURLResponse)?.statusCode ?? 0)
            }.resume()
        }
        guard (200..<300).contains(status) else { throw Failure(description: "the webhook answered HTTP \(status)") }
    }

    static func run(_ command: [String], alert: Alert, body: Data, timeout: Double) async throws {
        let environment = ["SLUICE_PIPELINE": alert.pipeline, "SLUICE_STATE": alert.state.rawValue, "SLUICE_PREVIOUS_STATE": alert.previous,
                           "SLUICE_FAILURES": String(alert.failures), "SLUICE_ERROR": alert.error ?? ""]
        let r = try await ChildProcess.run(command[0], Array(command.dropFirst()), environment: environment, input: Array(body),
                                           keepOutput: false, timeout: timeout)
        if r.timedOut { throw Failure(description: "still running after \(timeout) s; stopped") }
        guard r.status == 0 else { throw Failure(description: "exited with \(r.status)") }
    }
}
