import ConnectorKit
import Foundation

/// `type = "mysql"`: MySQL or MariaDB (InnoDB), through libmariadb.
public struct MySQLConfiguration: PluginConfiguration {
    public enum Mode: String, ConfigEnum { case append, upsert }
    /// How appended rows travel: multi-row `INSERT`s, or `LOAD DATA LOCAL INFILE` fed from memory.
    public enum Load: String, ConfigEnum {
        case insert
        case loadData = "load_data"
    }

    /// `mysql://user@host[:port]/database` (no password here: `password` or `password_file`).
    public var url: String
    public var password: Secret?
    public var passwordFile: String?
    public var table: String
    public var mode: Mode = .append
    /// Upsert: the columns of the table's primary key (created so, or already its primary or a
    /// unique key): `INSERT … ON DUPLICATE KEY UPDATE` sets the other columns.
    public var key: [String] = []
    public var createTable: Bool = true
    public var connectTimeout = ConfigDuration(seconds: 10)
    /// The longest one statement may wait for the server.
    public var timeout = ConfigDuration(seconds: 300)
    /// Rows per INSERT statement (also bounded by 4 MiB of SQL).
    public var rowsPerStatement: Int = 1000
    public var load: Load = .insert

    enum CodingKeys: String, CodingKey {
        case url, password, table, mode, key, timeout, load
        case passwordFile = "password_file"
        case createTable = "create_table"
        case connectTimeout = "connect_timeout"
        case rowsPerStatement = "rows_per_statement"
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
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .append
        key = try c.decodeIfPresent([String].self, forKey: .key) ?? []
        createTable = try c.decodeIfPresent(Bool.self, forKey: .createTable) ?? true
        connectTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .connectTimeout) ?? connectTimeout
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        rowsPerStatement = try c.decodeIfPresent(Int.self, forKey: .rowsPerStatement) ?? rowsPerStatement
        load = try c.decodeIfPresent(Load.self, forKey: .load) ?? .insert
    }

    /// The parts of `url`.
    struct Endpoint: Equatable {
        var host: String
        var port: Int
        var user: String
        var database: String
    }

    var endpoint: Endpoint? {
        guard let u = URLComponents(string: url), u.scheme == "mysql" || u.scheme == "mariadb", let host = u.host, !host.isEmpty,
              let user = u.user, !user.isEmpty, u.password == nil else { return nil }
        let database = String(u.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { return nil }
        return Endpoint(host: host, port: u.port ?? 3306, user: user.removingPercentEncoding ?? user, database: database)
    }

    public func validate() throws {
        if endpoint == nil {
            throw ConfigIssue(key: "url", message: "expected mysql://user@host[:port]/database, without a password (use password or password_file)")
        }
        try PasswordSetting.validate(password, file: passwordFile)
        if table.isEmpty { throw ConfigIssue(key: "table", message: "name the table") }
        if mode == .upsert && key.isEmpty { throw ConfigIssue(key: "key", message: "upsert needs the key columns, e.g. key = [\"placa\"]") }
        if mode == .append && !key.isEmpty { throw ConfigIssue(key: "key", message: "only with mode = \"upsert\"") }
        if load == .loadData && mode == .upsert {
            throw ConfigIssue(key: "load", message: "load_data only appends (LOAD DATA cannot update a row in place); upserts use insert")
        }
        if !(1...100_000).contains(rowsPerStatement) { throw ConfigIssue(key: "rows_per_statement", message: "between 1 and 100000") }
    }

    public func resolvedPassword(context: PluginBuildContext) throws -> String? {
        try PasswordSetting.resolve(password, file: passwordFile, context: context, plugin: "mysql")?.value
    }

    public static let sample = """
        type = "mysql"
        url = "mysql://etl@10.2.0.5:3306/frota"
        password = "${FLEET_DB_PASSWORD}"
        table = "veiculos"
        mode = "upsert"
        key = ["placa"]
        """
}
