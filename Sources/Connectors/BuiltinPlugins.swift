import ConnectorKit

/// Every built-in plugin, one line each. A new connector adds its folder and one line here;
/// `ConventionTests` checks that every folder is listed and documented.
public enum BuiltinPlugins {
    public static let all: [PluginDescriptor] = [
        .source("files", FilesConfiguration.self, summary: "Files in a local folder, tailed: only new bytes are read") { c, ctx in c.makeSource(context: ctx) },
        .source("smb", SMBConfiguration.self, summary: "Files on an SMB share (Windows, Samba; SMB1 for XP only when asked), tailed") { c, ctx in try c.makeIsolatedOrLocalSource(context: ctx) },
        .source("sftp", SFTPConfiguration.self, summary: "Files on an SSH server over SFTP, host keys verified; only new bytes travel") { c, ctx in try c.makeSource(context: ctx) },
        .decoder("csv", CSVConfiguration.self, summary: "CSV (RFC 4180) in any one-byte delimiter and encoding") { c, _ in CSVDecoder(c) },
        .decoder("log", LogConfiguration.self, summary: "Log lines split by a regex with named groups, or key=value pairs") { c, _ in LogDecoder(c) },
        .transform("schema", SchemaConfiguration.self, summary: "Cast to declared types; rename, derive, filter") { c, ctx in try SchemaTransform(c, host: ctx.host) },
        .sink("jsonl", JSONLConfiguration.self, summary: "JSON lines to a file (exactly-once) or standard output") { c, ctx in JSONLSink(path: ctx.resolve(c.path)) },
        .sink("postgres", PostgresConfiguration.self, summary: "PostgreSQL: binary COPY, day partitions, upsert, exactly-once") { c, ctx in
            PostgresSink(configuration: c, password: try c.resolvedPassword(context: ctx), logger: ctx.logger)
        },
        .sink("parquet", ParquetConfiguration.self, summary: "Parquet files in Hive layout (date=YYYY-MM-DD), zstd/snappy/gzip, exactly-once") { c, ctx in
            try ParquetSink(configuration: c, root: ctx.resolve(c.path) + "/" + (c.table ?? ctx.pipeline), logger: ctx.logger)
        },
        .sink("discard", DiscardConfiguration.self, summary: "Discards records (benchmarks, dry runs)") { _, _ in DiscardSink() },
        .job("postgres_partitions", PostgresPartitionsJobConfiguration.self, summary: "Creates the day partitions ahead for the partitioned tables pipelines load") { c, _ in
            PostgresPartitionsJob(c)
        },
        .job("postgres_archive", PostgresArchiveJobConfiguration.self, summary: "Archives old day partitions to verified Parquet, then drops them") { c, ctx in
            PostgresArchiveJob(c, baseDirectory: ctx.baseDirectory)
        },
        .job("postgres_backup", PostgresBackupJobConfiguration.self, summary: "pg_dump (custom format) into a folder, verified with pg_restore --list; keeps N daily and M monthly") { c, ctx in
            PostgresBackupJob(c, baseDirectory: ctx.baseDirectory)
        },
    ]

    /// The built-in plugins' registry. Their names are distinct (`ConventionTests` checks it), so
    /// this cannot fail; a package adding its own uses `registry.adding(_:)`, which can.
    public static var registry: PluginRegistry {
        do { return try PluginRegistry(all) } catch { fatalError("built-in plugins: \(error)") }
    }
}
