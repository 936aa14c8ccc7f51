import ConnectorKit
import CoreConnectors
import Logging

/// `[job] type = "postgres_partitions"`: creates the partitions ahead for the partitioned
/// PostgreSQL tables the directory's pipelines load.
public struct PostgresPartitionsJobConfiguration: JobConfiguration {
    /// Pipelines whose tables to maintain; all pipelines with a partitioned `postgres` sink when absent.
    public var pipelines: [String]?
    /// Intervals ahead of today; each table's own `partition.premake` when absent.
    public var premake: Int?

    enum CodingKeys: String, CodingKey { case pipelines, premake }

    public init() {}

    public func validate() throws {
        if let premake, !(0...366).contains(premake) { throw ConfigIssue(key: "premake", message: "must be between 0 and 366") }
    }

    public func check(against all: [PipelineSummary]) -> [ConfigIssue] {
        guard let names = pipelines else { return [] }
        return names.compactMap { name in
            guard let p = all.first(where: { $0.name == name }) else {
                var message = "names '\(name)', which is not a valid pipeline of this directory"
                if let g = Suggest.closest(to: name, among: all.map(\.name)) { message += "; did you mean '\(g)'?" }
                return ConfigIssue(key: "pipelines", message: message)
            }
            guard (p.sinkConfiguration as? PostgresConfiguration)?.partition != nil else {
                return ConfigIssue(key: "pipelines", message: "pipeline '\(name)' (\(p.file)) has no partitioned postgres sink: nothing to maintain")
            }
            return nil
        }
    }

    /// The tables to maintain, out of the directory's pipelines.
    func tables(among all: [PipelineSummary]) throws -> [PartitionedTable] {
        let chosen = pipelines.map { names in all.filter { names.contains($0.name) } } ?? all
        return try chosen.compactMap { p -> PartitionedTable? in
            guard let c = p.sinkConfiguration as? PostgresConfiguration, c.partition != nil else { return nil }
            return PartitionedTable(pipeline: p.name, configuration: c, password: try c.resolvedPassword(context: p.buildContext))
        }
    }

    public static let sample = """
        type = "postgres_partitions"
        # pipelines = ["xp-press"]   # default: every pipeline with a partitioned postgres sink
        premake = 14                 # default: each table's own partition.premake
        """
}

public struct PostgresPartitionsJob: Job {
    let configuration: PostgresPartitionsJobConfiguration

    public init(_ configuration: PostgresPartitionsJobConfiguration) { self.configuration = configuration }

    public func run(context: JobContext) async throws -> JobReport {
        let tables = try configuration.tables(among: context.pipelines)
        let reports = await PostgresPartitionMaintainer(logger: context.logger).run(tables, premake: configuration.premake)
        return JobReport(lines: reports.map { r in
            let outcome: JobReport.Outcome = switch r.outcome {
            case .failed: .failed
            case .tableMissing: .skipped
            case .ready: .done
            }
            return JobReport.Line("\(r.table) (\(r.pipeline))", outcome, r.detail)
        }, nothingToDo: "no pipeline loads a partitioned postgres table; nothing to do")
    }
}
