import Logging

/// A task on a schedule that is not a stream of records: partition upkeep, archiving old
/// partitions, backups. A job file has `[pipeline]` (name, schedule) and `[job]` (its `type` and
/// configuration) instead of source, transforms and sink.
public protocol Job: Sendable {
    /// Runs once. Problems with single items (a table, a partition) go into the report and the
    /// job goes on with the others; a thrown error means the job as a whole could not run.
    func run(context: JobContext) async throws -> JobReport
}

/// A pipeline loaded beside a job, as jobs see it (the partition job maintains the tables
/// pipelines load; the archive job archives them).
public struct PipelineSummary: Sendable {
    public var name: String
    public var file: String
    public var sinkType: String
    public var sinkConfiguration: any PluginConfiguration
    /// For resolving the sink's relative paths and secrets.
    public var buildContext: PluginBuildContext

    public init(name: String, file: String, sinkType: String, sinkConfiguration: any PluginConfiguration, buildContext: PluginBuildContext) {
        self.name = name
        self.file = file
        self.sinkType = sinkType
        self.sinkConfiguration = sinkConfiguration
        self.buildContext = buildContext
    }
}

public struct JobContext: Sendable {
    public var job: String
    public var pipelines: [PipelineSummary]
    public var stateDirectory: String
    public var logger: Logger

    public init(job: String, pipelines: [PipelineSummary], stateDirectory: String, logger: Logger) {
        self.job = job
        self.pipelines = pipelines
        self.stateDirectory = stateDirectory
        self.logger = logger
    }
}

/// What one run of a job did, one line per item it handled.
public struct JobReport: Sendable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        case done, skipped, failed
    }

    public struct Line: Sendable, CustomStringConvertible {
        public var subject: String
        public var outcome: Outcome
        public var message: String

        public init(_ subject: String, _ outcome: Outcome, _ message: String) {
            self.subject = subject
            self.outcome = outcome
            self.message = message
        }

        public var description: String { "\(subject): \(outcome == .failed ? "FAILED: " : "")\(message)" }
    }

    public var lines: [Line]
    /// Said when there were no items at all.
    public var nothingToDo: String?

    public init(lines: [Line] = [], nothingToDo: String? = nil) {
        self.lines = lines
        self.nothingToDo = nothingToDo
    }

    public var failed: Bool { lines.contains { $0.outcome == .failed } }

    public var description: String {
        lines.isEmpty ? (nothingToDo ?? "nothing to do") : lines.map(\.description).joined(separator: "\n")
    }
}

/// A job's configuration. Beyond its own table, it can check what it names against the pipelines
/// of its directory once all files are loaded (a pipeline that does not exist, or has no
/// partitioned table to maintain).
public protocol JobConfiguration: PluginConfiguration {
    func check(against pipelines: [PipelineSummary]) -> [ConfigIssue]
}

extension JobConfiguration {
    public func check(against pipelines: [PipelineSummary]) -> [ConfigIssue] { [] }
}
