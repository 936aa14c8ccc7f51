import ConnectorKit
import Foundation
import SluiceRuntime
import Synchronization

/// What the HTTP endpoints read about the daemon: every work's status, the last load of the
/// pipeline files, and whether it is draining (SIGTERM received: `/health` then answers 503).
public final class DaemonState: Sendable {
    public let status: StatusRegistry
    public let started: Date
    private let draining = Atomic<Bool>(false)
    private let reload = Locked<ReloadResult?>(nil)

    public init(status: StatusRegistry, started: Date = Date()) {
        self.status = status
        self.started = started
    }

    public var isDraining: Bool { draining.load(ordering: .relaxed) }
    public func startDraining() { draining.store(true, ordering: .relaxed) }

    public var lastReload: ReloadResult? { reload.withLock { $0 } }
    public func recordReload(_ result: ReloadResult) { reload.withLock { $0 = result } }

    /// Why the daemon is not ready: failing or degraded works and files that did not load.
    /// Empty when ready.
    public func notReadyReasons() -> [NotReadyReason] {
        var reasons: [NotReadyReason] = []
        if isDraining { reasons.append(NotReadyReason(name: nil, state: "draining", message: "the daemon is stopping")) }
        // A retry in progress is still failing until it succeeds.
        for s in status.snapshot() where s.state == .failing || s.state == .degraded || s.consecutiveFailures > 0 {
            let state = s.state == .degraded || s.state == .failing ? s.state.rawValue : "failing"
            reasons.append(NotReadyReason(name: s.name, state: state,
                                          message: "\(s.consecutiveFailures) failed run(s) in a row" + (s.lastError.map { ": \($0)" } ?? "")))
        }
        for e in lastReload?.errors ?? [] { reasons.append(NotReadyReason(name: nil, state: "config_error", message: e)) }
        return reasons
    }
}

public struct NotReadyReason: Sendable, Codable, Equatable {
    public var name: String?
    public var state: String
    public var message: String
}
