import ConnectorKit
import Foundation
import PipelineLoader

/// Something the daemon runs on a schedule: a pipeline or a job.
public protocol ScheduledWork: Sendable {
    var name: String { get }
    var kind: WorkKind { get }
    /// For one host of a multi-host pipeline: the pipeline's name and the host's.
    var group: String? { get }
    var host: String? { get }
    var schedule: Schedule { get }
    /// Pipelines whose successful runs trigger this one (all of them, when several).
    var after: [String] { get }
    /// The longest wait between retries of a failing run.
    var retryMaxDelay: Double { get }
    /// Where to tell that it started failing, became degraded or recovered.
    var alerts: AlertSettings? { get }
    /// Runs once; `stop` asks it to finish early (after committing what it holds). Throws when
    /// the run failed.
    func run(stop: StopToken) async throws -> RunOutcome
    /// No run will follow (the work was removed or replaced by a reload, or the daemon stops):
    /// end what outlives runs, such as a source's helper process.
    func shutdown() async
}

extension ScheduledWork {
    public func shutdown() async {}
    public var alerts: AlertSettings? { nil }
    public var group: String? { nil }
    public var host: String? { nil }
}

/// What a successful run did.
public struct RunOutcome: Sendable, Equatable {
    public var records: Int64
    public var deadLetters: Int64
    public var bytes: Int64
    /// When the newest data this run loaded was written at the source (its file's modification
    /// time), if it read any.
    public var newestData: Date?

    public init(records: Int64 = 0, deadLetters: Int64 = 0, bytes: Int64 = 0, newestData: Date? = nil) {
        self.records = records
        self.deadLetters = deadLetters
        self.bytes = bytes
        self.newestData = newestData
    }

    public var isEmpty: Bool { records == 0 && deadLetters == 0 }
}
