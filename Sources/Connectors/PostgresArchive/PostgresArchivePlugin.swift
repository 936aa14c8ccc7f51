import ConnectorKit
import CoreConnectors
import ParquetConnector
import PostgresConnector

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `postgres_archive` job.
    public static let postgresArchive: PluginDescriptor = .job("postgres_archive", PostgresArchiveJobConfiguration.self, summary: "Archives old day partitions to verified Parquet, then drops them") { c, ctx in
        PostgresArchiveJob(c, baseDirectory: ctx.baseDirectory)
    }
}
