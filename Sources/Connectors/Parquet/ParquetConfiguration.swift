import ConnectorKit
import CoreConnectors
import Parquet

/// `type = "parquet"`: Parquet files in Hive layout, one folder per day.
public struct ParquetConfiguration: PluginConfiguration {
    /// The lake's folder (relative to the pipeline file's directory).
    public var path: String
    /// The table's folder under `path`; the pipeline's name when absent.
    public var table: String?
    /// A date or timestamp column: rows go to `date=YYYY-MM-DD` folders by its UTC day.
    public var partitionBy: String?
    /// Sort the rows of each file by `partition_by` (holds a commit's rows in memory).
    public var sort: Bool = false
    public var compression: String = "zstd"
    public var compressionLevel: Int?
    public var rowGroupRows: Int = 1_048_576
    public var rowGroupMB: Int = 128
    /// The sink's commit proposal: a new set of files every `file_rows` rows or `file_interval`,
    /// whichever comes first (the pipeline's `commit_rows`/`commit_interval` win when set).
    public var fileRows: Int = 1_000_000
    public var fileInterval: ConfigDuration = ConfigDuration(seconds: 900)

    enum CodingKeys: String, CodingKey {
        case path, table, sort, compression
        case partitionBy = "partition_by"
        case compressionLevel = "compression_level"
        case rowGroupRows = "row_group_rows"
        case rowGroupMB = "row_group_mb"
        case fileRows = "file_rows"
        case fileInterval = "file_interval"
    }

    public init(path: String) { self.path = path }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        table = try c.decodeIfPresent(String.self, forKey: .table)
        partitionBy = try c.decodeIfPresent(String.self, forKey: .partitionBy)
        sort = try c.decodeIfPresent(Bool.self, forKey: .sort) ?? false
        compression = try c.decodeIfPresent(String.self, forKey: .compression) ?? "zstd"
        compressionLevel = try c.decodeIfPresent(Int.self, forKey: .compressionLevel)
        rowGroupRows = try c.decodeIfPresent(Int.self, forKey: .rowGroupRows) ?? rowGroupRows
        rowGroupMB = try c.decodeIfPresent(Int.self, forKey: .rowGroupMB) ?? rowGroupMB
        fileRows = try c.decodeIfPresent(Int.self, forKey: .fileRows) ?? fileRows
        fileInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .fileInterval) ?? fileInterval
    }

    static let codecs: [String: CompressionCodec] = ["zstd": .zstd, "snappy": .snappy, "gzip": .gzip, "none": .uncompressed]

    public func validate() throws {
        if path.isEmpty { throw ConfigIssue(key: "path", message: "must name a folder") }
        if let table, table.isEmpty || table.contains("/") || table == "." || table == ".." || table.hasPrefix(".") {
            throw ConfigIssue(key: "table", message: "must be a plain folder name (no '/', not starting with '.')")
        }
        if sort && partitionBy == nil { throw ConfigIssue(key: "sort", message: "sorts by partition_by, which is not set") }
        _ = try writerOptions()
        if !(1...1 << 30).contains(rowGroupRows) { throw ConfigIssue(key: "row_group_rows", message: "must be between 1 and 1073741824") }
        if !(1...4096).contains(rowGroupMB) { throw ConfigIssue(key: "row_group_mb", message: "must be between 1 and 4096") }
        if fileRows < 1 { throw ConfigIssue(key: "file_rows", message: "must be at least 1") }
        if fileInterval.seconds <= 0 { throw ConfigIssue(key: "file_interval", message: "must be positive") }
    }

    package func writerOptions() throws -> ParquetWriterOptions {
        guard let codec = Self.codecs[compression] else {
            throw ConfigIssue(key: "compression", message: "must be one of zstd, snappy, gzip, none")
        }
        var o = ParquetWriterOptions()
        o.codec = codec
        o.compressionLevel = compressionLevel
        o.rowGroupRows = rowGroupRows
        o.rowGroupBytes = rowGroupMB << 20
        do { try o.validate() } catch {
            throw ConfigIssue(key: "compression_level", message: "\(error)")
        }
        return o
    }

    public static let sample = """
        type = "parquet"
        path = "/srv/lake"
        table = "press"               # files under /srv/lake/press/date=YYYY-MM-DD/
        partition_by = "ts"           # a date or timestamp column (UTC day)
        sort = true                   # rows of each file ordered by ts
        compression = "zstd"          # zstd (level 3), snappy, gzip or none
        file_rows = 1000000           # a new set of files every 1M rows…
        file_interval = "15m"         # …or every 15 minutes
        """
}
