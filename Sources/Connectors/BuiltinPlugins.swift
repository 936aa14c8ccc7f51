import ConnectorKit
// The bundle re-exports its connectors, so `import Connectors` keeps giving a program every
// built-in configuration type, as it did before the connectors became targets of their own.
@_exported import CoreConnectors
@_exported import MySQLConnector
@_exported import ParquetConnector
@_exported import PostgresArchiveConnector
@_exported import PostgresConnector
@_exported import SFTPConnector
@_exported import SMBConnector

/// Every built-in plugin. A connector declares its descriptor in its folder (`<Folder>Plugin.swift`)
/// and adds one name here;
/// `ConventionTests` checks that every folder is listed and documented.
public enum BuiltinPlugins {
    public static let all: [PluginDescriptor] = [
        .files, .smb, .sftp, .execSource,
        .csv, .log, .schema,
        .jsonl, .postgres, .mysql, .parquet, .discard, .execSink,
        .postgresPartitions, .postgresArchive, .postgresBackup,
    ]

    /// The built-in plugins' registry. Their names are distinct (`ConventionTests` checks it), so
    /// this cannot fail; a package adding its own uses `registry.adding(_:)`, which can.
    public static var registry: PluginRegistry {
        do { return try PluginRegistry(all) } catch { fatalError("built-in plugins: \(error)") }
    }
}
