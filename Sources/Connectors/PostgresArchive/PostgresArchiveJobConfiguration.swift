import ConnectorKit
import CoreConnectors
import ParquetConnector
import PostgresConnector
import Parquet

/// `[job] type = "postgres_archive"`: day partitions older than `older_than` of a pipeline's
/// PostgreSQL table go to verified Parquet files, then are dropped.
public struct PostgresArchiveJobConfiguration: JobConfiguration {
    /// The pipeline whose partitioned `postgres` sink names the table (and its server).
    public var pipeline: String
    /// Partitions whose upper bound is at least this far before today are archived.
    public var olderThan: ConfigDuration
    /// The archive's folder: files go to `<path>/<table>/date=YYYY-MM-DD/<partition>.parquet`.
    public var path: String
    /// The table's folder under `path`; the table's name when absent.
    public var table: String?
    /// JSON lines, one per archived partition; `<path>/<table>/manifest.jsonl` when absent.
    public var manifest: String?
    public var compression: String = "zstd"
    public var compressionLevel: Int?
    public var rowGroupRows: Int = 1_048_576
    /// List what would be archived; change nothing.
    public var dryRun: Bool = false
    /// How long to wait for the lock on a partition (rows still being loaded into it).
    public var lockTimeout: ConfigDuration = ConfigDuration(seconds: 60)

    enum CodingKeys: String, CodingKey {
        case pipeline, path, table, manifest, compression
        case olderThan = "older_than"
        case compressionLevel = "compression_level"
        case rowGroupRows = "row_group_rows"
        case dryRun = "dry_run"
        case lockTimeout = "lock_timeout"
    }

    public init(pipeline: String, olderThan: ConfigDuration, path: String) {
        self.pipeline = pipeline
        self.olderThan = olderThan
        self.path = path
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pipeline = try c.decode(String.self, forKey: .pipeline)
        olderThan = try c.decode(ConfigDuration.self, forKey: .olderThan)
        path = try c.decode(String.self, forKey: .path)
        table = try c.decodeIfPresent(String.self, forKey: .table)
        manifest = try c.decodeIfPresent(String.self, forKey: .manifest)
        compression = try c.decodeIfPresent(String.self, forKey: .compression) ?? compression
        compressionLevel = try c.decodeIfPresent(Int.self, forKey: .compressionLevel)
        rowGroupRows = try c.decodeIfPresent(Int.self, forKey: .rowGroupRows) ?? rowGroupRows
        dryRun = try c.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false
        lockTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .lockTimeout) ?? lockTimeout
    }

    public func validate() throws {
        if olderThan.seconds < 86_400 { throw ConfigIssue(key: "older_than", message: "must be at least one day (\"1d\"); today's partitions are still being loaded") }
        if path.isEmpty { throw ConfigIssue(key: "path", message: "must name a folder") }
        if let table, table.isEmpty || table.contains("/") || table.hasPrefix(".") {
            throw ConfigIssue(key: "table", message: "must be a plain folder name (no '/', not starting with '.')")
        }
        _ = try writerOptions()
        if !(1...(1 << 30)).contains(rowGroupRows) { throw ConfigIssue(key: "row_group_rows", message: "must be between 1 and 1073741824") }
    }

    func writerOptions() throws -> ParquetWriterOptions {
        var c = ParquetConfiguration(path: path)
        c.compression = compression
        c.compressionLevel = compressionLevel
        c.rowGroupRows = rowGroupRows
        return try c.writerOptions()
    }

    /// Whole days: a partition is archived when its upper bound is on or before today minus this.
    var days: Int { Int(olderThan.seconds / 86_400) }

    public func check(against all: [PipelineSummary]) -> [ConfigIssue] {
        guard let p = all.first(where: { $0.name == pipeline }) else {
            var message = "names '\(pipeline)', which is not a valid pipeline of this directory"
            if let g = Suggest.closest(to: pipeline, among: all.map(\.name)) { message += "; did you mean '\(g)'?" }
            return [ConfigIssue(key: "pipeline", message: message)]
        }
        guard let c = p.sinkConfiguration as? PostgresConfiguration, c.partition != nil else {
            return [ConfigIssue(key: "pipeline", message: "pipeline '\(pipeline)' (\(p.file)) has no partitioned postgres sink: nothing to archive")]
        }
        return []
    }

    public static let sample = """
        type = "postgres_archive"
        pipeline = "xp-press"        # archive the partitioned table this pipeline loads
        older_than = "90d"           # partitions that ended 90 days ago or earlier
        path = "/srv/archive"        # → /srv/archive/<table>/date=YYYY-MM-DD/<partition>.parquet
        compression = "zstd"
        # manifest = "/srv/archive/press.manifest.jsonl"   # default <path>/<table>/manifest.jsonl
        # dry_run = true             # list what would be archived, change nothing
        """
}
