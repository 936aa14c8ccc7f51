import ConnectorKit
import Connectors
import Foundation
import Logging

/// `[job] type = "postgres_partitions"`: creates the partitions ahead for the partitioned
/// PostgreSQL tables the pipelines load.
public struct PartitionJobConfiguration: Decodable, Sendable {
    /// Pipelines whose tables to maintain; all pipelines with a partitioned `postgres` sink when absent.
    public var pipelines: [String]?
    /// Intervals ahead of today; each table's own `partition.premake` when absent.
    public var premake: Int?

    enum CodingKeys: String, CodingKey { case pipelines, premake }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pipelines = try c.decodeIfPresent([String].self, forKey: .pipelines)
        premake = try c.decodeIfPresent(Int.self, forKey: .premake)
        if let premake, !(0...366).contains(premake) { throw ConfigIssue(key: "premake", message: "must be between 0 and 366") }
    }

    public static let types = ["postgres_partitions"]
}

/// A validated job file: a `[pipeline]` table for name and schedule, and a `[job]` table instead of
/// source, transforms and sink.
public struct JobDefinition: Sendable {
    public var file: String
    public var name: String
    public var settings: PipelineSettings
    public var type: String
    public var configuration: PartitionJobConfiguration
    /// Line of `[job]`, for errors found across files.
    var line: Int?

    /// The tables this job maintains, out of the directory's pipelines.
    public func tables(among pipelines: [PipelineDefinition]) throws -> [PartitionedTable] {
        let chosen = configuration.pipelines.map { names in pipelines.filter { names.contains($0.name) } } ?? pipelines
        return try chosen.compactMap { p -> PartitionedTable? in
            guard let c = p.sink.configuration as? PostgresConfiguration, c.partition != nil else { return nil }
            let base = URL(fileURLWithPath: p.file).deletingLastPathComponent().path
            let context = PluginBuildContext(pipeline: p.name, configFile: p.file, baseDirectory: base, stateDirectory: "", logger: Logger(label: "sluice"))
            return PartitionedTable(pipeline: p.name, configuration: c, password: try c.resolvedPassword(context: context))
        }
    }

    /// Errors only visible with every file loaded: named pipelines that do not exist or do not
    /// load a partitioned PostgreSQL table.
    func crossCheck(_ pipelines: [PipelineDefinition]) -> [ConfigError] {
        guard let names = configuration.pipelines else { return [] }
        return names.compactMap { name in
            guard let p = pipelines.first(where: { $0.name == name }) else {
                var message = "job.pipelines names '\(name)', which is not a valid pipeline of this directory"
                if let g = Suggest.closest(to: name, among: pipelines.map(\.name)) { message += "; did you mean '\(g)'?" }
                return ConfigError(file: file, line: line, keyPath: "job.pipelines", message: message)
            }
            guard let c = p.sink.configuration as? PostgresConfiguration, c.partition != nil else {
                return ConfigError(file: file, line: line, keyPath: "job.pipelines",
                                   message: "pipeline '\(name)' (\(p.file)) has no partitioned postgres sink: nothing to maintain")
            }
            return nil
        }
    }
}
