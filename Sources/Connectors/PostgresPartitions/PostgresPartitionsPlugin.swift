import ConnectorKit
import CoreConnectors

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `postgres_partitions` job.
    public static let postgresPartitions: PluginDescriptor = .job("postgres_partitions", PostgresPartitionsJobConfiguration.self, summary: "Creates the day partitions ahead for the partitioned tables pipelines load") { c, _ in
        PostgresPartitionsJob(c)
    }
}
