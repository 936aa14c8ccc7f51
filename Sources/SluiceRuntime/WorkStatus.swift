import ConnectorKit
import Foundation

/// Where a scheduled pipeline or job stands.
public enum WorkState: String, Sendable, Codable {
    /// Waiting for its next run.
    case waiting
    case running
    /// The last run failed; retrying with backoff.
    case failing
    /// Failed `degradedAfter` times in a row; still retrying, at the longest backoff.
    case degraded
    /// Another daemon of the cluster is running it (`runningOn` names it); this one looks again
    /// at its next scheduled time.
    case elsewhere
    /// Removed, or the daemon is stopping.
    case stopped
}

/// One finished run.
public struct RunRecord: Sendable, Codable, Equatable {
    public var started: Date
    public var ended: Date
    public var succeeded: Bool
    public var records: Int64
    public var deadLetters: Int64
    public var bytes: Int64
    public var error: String?
    /// When the newest data this run loaded was written at the source.
    public var newestData: Date?

    public init(started: Date, ended: Date, succeeded: Bool, records: Int64 = 0, deadLetters: Int64 = 0, bytes: Int64 = 0, error: String? = nil,
                newestData: Date? = nil) {
        self.newestData = newestData
        self.started = started
        self.ended = ended
        self.succeeded = succeeded
        self.records = records
        self.deadLetters = deadLetters
        self.bytes = bytes
        self.error = error
    }

    public var seconds: Double { ended.timeIntervalSince(started) }
}

/// The status of one pipeline or job, as the status page and the API show it.
public struct WorkStatus: Sendable, Codable, Equatable {
    public var name: String
    /// For one host of a multi-host pipeline: the pipeline's name and the host's.
    public var group: String?
    public var host: String?
    public var kind: WorkKind
    public var schedule: String
    public var after: [String]
    public var state: WorkState
    public var nextRun: Date?
    public var lastSuccess: Date?
    public var consecutiveFailures: Int
    /// The most recent runs, oldest first (at most `StatusRegistry.keptRuns`).
    public var runs: [RunRecord]
    /// When the newest data loaded so far was written at the source (file modification time).
    public var newestData: Date?
    /// Records and dead letters committed since the daemon started this work.
    public var totalRecords: Int64 = 0
    public var totalDeadLetters: Int64 = 0
    /// The daemon running it when `state` is `elsewhere`.
    public var runningOn: String?

    public var lastRun: RunRecord? { runs.last }

    /// The error of the last run, when it failed.
    public var lastError: String? { runs.last.flatMap { $0.succeeded ? nil : $0.error } }

    /// Seconds between `now` and when the newest loaded data was written at the source.
    public func lag(now: Date = Date()) -> Double? { newestData.map { max(0, now.timeIntervalSince($0)) } }
}

public enum WorkKind: String, Sendable, Codable { case pipeline, job }

/// Every scheduled item's status, shared by the scheduler (which writes it) and whoever reports it.
public final class StatusRegistry: Sendable {
    public static let keptRuns = 50
    private let entries = Locked<[String: WorkStatus]>([:])

    public init() {}

    /// All entries, by name.
    public func snapshot() -> [WorkStatus] { entries.withLock { $0.values.sorted { $0.name < $1.name } } }

    public func status(of name: String) -> WorkStatus? { entries.withLock { $0[name] } }

    func register(_ status: WorkStatus) { entries.withLock { $0[status.name] = status } }

    func remove(_ name: String) { _ = entries.withLock { $0.removeValue(forKey: name) } }

    func update(_ name: String, _ body: (inout WorkStatus) -> Void) {
        entries.withLock { all in
            guard var s = all[name] else { return }
            body(&s)
            all[name] = s
        }
    }

    func record(_ name: String, _ run: RunRecord) {
        update(name) { s in
            s.runs.append(run)
            if s.runs.count > Self.keptRuns { s.runs.removeFirst(s.runs.count - Self.keptRuns) }
            if run.succeeded { s.lastSuccess = run.ended }
            s.totalRecords += run.records
            s.totalDeadLetters += run.deadLetters
            if let newest = run.newestData { s.newestData = max(s.newestData ?? newest, newest) }
        }
    }
}
