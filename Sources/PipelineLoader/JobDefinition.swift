import ConnectorKit
import Foundation
import Logging

/// A validated job file: a `[pipeline]` table for name and schedule, and a `[job]` table (a job
/// plugin and its configuration) instead of source, transforms and sink.
public struct JobDefinition: Sendable {
    public var file: String
    public var name: String
    public var settings: PipelineSettings
    public var step: PipelineStep
    /// Line of `[job]`, for errors found across files.
    var line: Int?

    public var type: String { step.descriptor.type }

    public func build(stateDirectory: String, logger: Logger) throws -> any Job {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let context = PluginBuildContext(pipeline: name, configFile: file, baseDirectory: base, stateDirectory: stateDirectory, logger: logger)
        guard case let .job(job) = try step.descriptor.build(step.configuration, context: context) else {
            throw ConnectorError(.configuration, "[job] did not build a job", pipeline: name)
        }
        return job
    }

    /// Errors only visible with every file loaded (e.g. a named pipeline that does not exist).
    func crossCheck(_ pipelines: [PipelineDefinition]) -> [ConfigError] {
        let summaries = PipelineDefinition.jobSummaries(pipelines, stateDirectory: "", logger: Logger(label: "sluice"))
        return step.descriptor.check(step.configuration, against: summaries).map {
            ConfigError(file: file, line: line, keyPath: ConfigNode.render(["job"] + $0.key), message: $0.message)
        }
    }
}

extension PipelineDefinition {
    /// What jobs see of a directory's pipelines: a multi-host pipeline once, under its own name
    /// (its hosts load the same sink).
    public static func jobSummaries(_ pipelines: [PipelineDefinition], stateDirectory: String, logger: Logger) -> [PipelineSummary] {
        var seen = Set<String>()
        return pipelines.compactMap { p in
            guard let group = p.group else { return p.summary(stateDirectory: stateDirectory, logger: logger) }
            guard seen.insert(group).inserted else { return nil }
            var s = p.summary(stateDirectory: stateDirectory, logger: logger)
            s.name = group
            return s
        }
    }

    /// What a job sees of this pipeline.
    public func summary(stateDirectory: String, logger: Logger) -> PipelineSummary {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let context = PluginBuildContext(pipeline: name, configFile: file, baseDirectory: base, stateDirectory: stateDirectory, logger: logger)
        return PipelineSummary(name: name, file: file, sinkType: sink.descriptor.type, sinkConfiguration: sink.configuration, buildContext: context)
    }
}
