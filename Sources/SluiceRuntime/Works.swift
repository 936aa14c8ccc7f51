import ConnectorKit
import Foundation
import Logging
import PipelineLoader

/// A pipeline as the daemon runs it: one engine, kept between runs.
public struct PipelineWork: ScheduledWork {
    public let definition: PipelineDefinition
    let engine: PipelineEngine
    let logger: Logger

    public init(definition: PipelineDefinition, pipeline: Pipeline, checkpointStore: any CheckpointStore,
                deadLetterKey: String = DeadLetterWriter.outputKey, logger: Logger) {
        self.definition = definition
        engine = PipelineEngine(pipeline: pipeline, checkpointStore: checkpointStore, deadLetterKey: deadLetterKey)
        var l = logger
        l[metadataKey: "pipeline"] = "\(definition.group ?? definition.name)"
        if let host = definition.host { l[metadataKey: "host"] = "\(host)" }
        self.logger = l
    }

    public var name: String { definition.name }
    public var group: String? { definition.group }
    public var host: String? { definition.host }
    public var kind: WorkKind { .pipeline }
    public var schedule: Schedule { definition.settings.schedule }
    public var after: [String] { definition.settings.after }
    public var retryMaxDelay: Double { definition.settings.retryMaxDelay.seconds }
    public var alerts: AlertSettings? { definition.settings.onFailure }

    /// Ends the source's helper process or kept connection (an SMB source's helper).
    public func shutdown() async { await engine.pipeline.source.shutdown() }

    public func run(stop: StopToken) async throws -> RunOutcome {
        let metrics = PipelineMetrics(pipeline: definition.group ?? name, host: definition.host)
        let context = RunContext(pipeline: name, logger: logger, stop: stop, stats: RunStats(metrics: metrics))
        try await engine.runOnce(context: context)
        let c = context.stats.counts
        return RunOutcome(records: c.recordsWritten, deadLetters: c.deadLetters, bytes: c.bytesRead,
                          newestData: c.newestSourceModified.map { Date(timeIntervalSince1970: $0) })
    }
}

/// A job file (partition upkeep, archive, …) as the daemon runs it.
public struct JobWork: ScheduledWork {
    public let job: JobDefinition
    let pipelines: [PipelineDefinition]
    let stateDirectory: String
    let logger: Logger

    public init(job: JobDefinition, pipelines: [PipelineDefinition], stateDirectory: String, logger: Logger) {
        self.job = job
        self.pipelines = pipelines
        self.stateDirectory = stateDirectory
        var l = logger
        l[metadataKey: "job"] = "\(job.name)"
        self.logger = l
    }

    public var name: String { job.name }
    public var kind: WorkKind { .job }
    public var schedule: Schedule { job.settings.schedule }
    public var after: [String] { job.settings.after }
    public var retryMaxDelay: Double { job.settings.retryMaxDelay.seconds }
    public var alerts: AlertSettings? { job.settings.onFailure }

    public func run(stop: StopToken) async throws -> RunOutcome {
        let report = try await JobRunner.run(job, pipelines: pipelines, stateDirectory: stateDirectory, logger: logger)
        let failed = report.lines.filter { $0.outcome == .failed }
        for line in failed { logger.error("\(line)") }
        if report.failed { throw JobFailure(job: name, failures: failed.map { "\($0)" }) }
        return RunOutcome()
    }
}

public struct JobFailure: Error, CustomStringConvertible {
    public var job: String
    public var failures: [String]
    public var description: String { "job \(job) failed: " + (failures.isEmpty ? "see the log" : failures.joined(separator: "; ")) }
}

/// Runs a job file once against the directory's pipelines (`sluice once JOB` and the daemon).
public enum JobRunner {
    public static func run(_ job: JobDefinition, pipelines: [PipelineDefinition], stateDirectory: String, logger: Logger) async throws -> JobReport {
        let built = try job.build(stateDirectory: stateDirectory, logger: logger)
        let context = JobContext(job: job.name, pipelines: PipelineDefinition.jobSummaries(pipelines, stateDirectory: stateDirectory, logger: logger),
                                 stateDirectory: stateDirectory, logger: logger)
        return try await built.run(context: context)
    }
}
