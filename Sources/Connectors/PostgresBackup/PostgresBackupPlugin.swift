import ConnectorKit
import CoreConnectors

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `postgres_backup` job.
    public static let postgresBackup: PluginDescriptor = .job("postgres_backup", PostgresBackupJobConfiguration.self, summary: "pg_dump (custom format) into a folder, verified with pg_restore --list; keeps N daily and M monthly") { c, ctx in
        PostgresBackupJob(c, baseDirectory: ctx.baseDirectory)
    }
}
