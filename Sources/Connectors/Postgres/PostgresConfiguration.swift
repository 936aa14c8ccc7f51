import ConnectorKit
import CoreConnectors
import Foundation

/// `type = "postgres"`: loads batches with binary COPY, with the checkpoint in the same transaction.
public struct PostgresConfiguration: PluginConfiguration {
    public enum Mode: String, ConfigEnum { case append, upsert }
    public enum Interval: String, ConfigEnum { case day, week, month }

    public struct Partitioning: Decodable, Sendable {
        /// A `date` or `timestamp` column of the pipeline's schema.
        public var column: String
        public var interval: Interval = .day
        /// Partitions made ahead of today (pg_partman's premake).
        public var premake: Int = 4
        /// Rows are copied into their partition itself (Sluice makes and names the partitions, so
        /// it knows each row's), sparing the server the routing of every row; false copies into
        /// the parent table, e.g. for statement triggers defined on it.
        public var direct: Bool = true

        enum CodingKeys: String, CodingKey { case column, interval, premake, direct }

        public init(column: String) { self.column = column }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            column = try c.decode(String.self, forKey: .column)
            interval = try c.decodeIfPresent(Interval.self, forKey: .interval) ?? .day
            premake = try c.decodeIfPresent(Int.self, forKey: .premake) ?? 4
            direct = try c.decodeIfPresent(Bool.self, forKey: .direct) ?? true
        }
    }

    /// `postgresql://user@host:port/db?sslmode=…` or `host=… dbname=…`; `sslmode` and every other
    /// libpq parameter pass through.
    public var url: String
    /// Password, normally `"${PGPASSWORD_VAR}"`; libpq's `~/.pgpass` is used when neither this nor
    /// `password_file` is set.
    public var password: Secret?
    /// A file whose first line is the password.
    public var passwordFile: String?
    public var table: String
    /// The PostgreSQL schema (namespace) of the table.
    public var schema: String = "public"
    public var mode: Mode = .append
    /// Conflict key for `mode = "upsert"`.
    public var key: [String] = []
    public var partition: Partitioning?
    /// Create the table from the pipeline's schema when it does not exist.
    public var createTable: Bool = true
    public var connectTimeout: ConfigDuration = ConfigDuration(seconds: 10)
    /// How long the server may stay silent (no byte received or sent while one is due) before the
    /// connection counts as lost: a stalled network or server then ends in a retry from the last
    /// commit instead of a run that hangs for ever.
    public var timeout: ConfigDuration = ConfigDuration(seconds: 300)
    /// COPY streams in append mode: 2 loads every other batch over a second connection, so the
    /// server inserts on two cores; both commit at once through a prepared transaction, which
    /// needs `max_prepared_transactions` ≥ 1 on the server (see the README).
    public var streams: Int = 1

    enum CodingKeys: String, CodingKey {
        case url, password, table, schema, mode, key, partition, timeout, streams
        case passwordFile = "password_file"
        case createTable = "create_table"
        case connectTimeout = "connect_timeout"
    }

    public init(url: String, table: String) {
        self.url = url
        self.table = table
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        password = try c.decodeIfPresent(Secret.self, forKey: .password)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        table = try c.decode(String.self, forKey: .table)
        schema = try c.decodeIfPresent(String.self, forKey: .schema) ?? schema
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .append
        key = try c.decodeIfPresent([String].self, forKey: .key) ?? []
        partition = try c.decodeIfPresent(Partitioning.self, forKey: .partition)
        createTable = try c.decodeIfPresent(Bool.self, forKey: .createTable) ?? true
        connectTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .connectTimeout) ?? connectTimeout
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        streams = try c.decodeIfPresent(Int.self, forKey: .streams) ?? streams
    }

    public func validate() throws {
        if url.isEmpty { throw ConfigIssue(key: "url", message: "must be a postgresql:// URL or a key=value connection string") }
        if table.isEmpty { throw ConfigIssue(key: "table", message: "must name a table") }
        if timeout.seconds < 1 { throw ConfigIssue(key: "timeout", message: "must be at least 1s") }
        try PasswordSetting.validate(password, file: passwordFile)
        if mode == .upsert && key.isEmpty { throw ConfigIssue(key: "key", message: "is required for mode = \"upsert\" (the conflict columns)") }
        if mode == .append && !key.isEmpty { throw ConfigIssue(key: "key", message: "is only used with mode = \"upsert\"") }
        if streams != 1 && streams != 2 { throw ConfigIssue(key: "streams", message: "must be 1 or 2") }
        if streams == 2 && mode != .append { throw ConfigIssue(key: "streams", message: "2 is for mode = \"append\" (an upsert runs on one connection)") }
        if let p = partition {
            if p.premake < 0 || p.premake > 366 { throw ConfigIssue(key: "partition", "premake", message: "must be between 0 and 366") }
            if mode == .upsert && !key.contains(p.column) {
                throw ConfigIssue(key: "key", message: "must include the partition column '\(p.column)' (PostgreSQL requires it in a partitioned table's unique key)")
            }
        }
        try PasswordSetting.rejectPasswordInURL(url)
    }

    /// The password to use: from `password`, `password_file`, or nil (libpq then tries ~/.pgpass and PGPASSWORD).
    public func resolvedPassword(context: PluginBuildContext) throws -> String? {
        try PasswordSetting.resolve(password, file: passwordFile, context: context, plugin: "postgres")?.value
    }

    public static let sample = """
        type = "postgres"
        url = "postgresql://etl@127.0.0.1:5432/plant?sslmode=prefer"
        password = "${PLANT_DB_PASSWORD}"
        table = "press_readings"
        partition = { column = "ts", interval = "day", premake = 7 }
        """
}
