import ConnectorKit
import CoreConnectors
import Foundation

/// `[job] type = "postgres_backup"`: pg_dump in custom format into a folder, each dump verified
/// with `pg_restore --list`, old dumps pruned (N daily, M monthly).
public struct PostgresBackupJobConfiguration: JobConfiguration {
    /// The database to dump. Without it: every database the pipelines named in `pipelines` (or
    /// all pipelines with a `postgres` sink) load, each dumped on its own.
    public var url: String?
    public var password: Secret?
    public var passwordFile: String?
    public var pipelines: [String]?
    /// Where the dumps go: `<folder>/<database>-<UTC time>.dump`.
    public var folder: String
    /// The newest dump of each of this many most recent days is kept…
    public var keepDaily: Int = 7
    /// …and the newest dump of each of this many most recent months.
    public var keepMonthly: Int = 12
    /// Refuse to start when the folder's file system has less free space than this, or than
    /// twice the newest dump of the same database.
    public var minFreeSpace: ByteCount = ByteCount(1 << 30)
    public var timeout: ConfigDuration = ConfigDuration(seconds: 6 * 3600)
    /// The tools; found in PATH when not absolute.
    public var pgDump: String = "pg_dump"
    public var pgRestore: String = "pg_restore"

    enum CodingKeys: String, CodingKey {
        case url, password, pipelines, folder, timeout
        case passwordFile = "password_file"
        case keepDaily = "keep_daily"
        case keepMonthly = "keep_monthly"
        case minFreeSpace = "min_free_space"
        case pgDump = "pg_dump"
        case pgRestore = "pg_restore"
    }

    public init(folder: String) { self.folder = folder }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decodeIfPresent(String.self, forKey: .url)
        password = try c.decodeIfPresent(Secret.self, forKey: .password)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        pipelines = try c.decodeIfPresent([String].self, forKey: .pipelines)
        folder = try c.decode(String.self, forKey: .folder)
        keepDaily = try c.decodeIfPresent(Int.self, forKey: .keepDaily) ?? keepDaily
        keepMonthly = try c.decodeIfPresent(Int.self, forKey: .keepMonthly) ?? keepMonthly
        minFreeSpace = try c.decodeIfPresent(ByteCount.self, forKey: .minFreeSpace) ?? minFreeSpace
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        pgDump = try c.decodeIfPresent(String.self, forKey: .pgDump) ?? pgDump
        pgRestore = try c.decodeIfPresent(String.self, forKey: .pgRestore) ?? pgRestore
    }

    public func validate() throws {
        if folder.isEmpty { throw ConfigIssue(key: "folder", message: "must name a folder") }
        if keepDaily < 1 { throw ConfigIssue(key: "keep_daily", message: "must be at least 1 (the dump just made)") }
        if keepMonthly < 0 { throw ConfigIssue(key: "keep_monthly", message: "must be 0 or more") }
        try PasswordSetting.validate(password, file: passwordFile)
        if let url {
            try PasswordSetting.rejectPasswordInURL(url)
            if pipelines != nil { throw ConfigIssue(key: "pipelines", message: "give either url or pipelines, not both") }
        } else if password != nil || passwordFile != nil {
            throw ConfigIssue(key: passwordFile != nil ? "password_file" : "password", message: "goes with url; without url each pipeline's sink password is used")
        }
    }

    public func check(against all: [PipelineSummary]) -> [ConfigIssue] {
        guard url == nil else { return [] }
        var issues: [ConfigIssue] = []
        for name in pipelines ?? [] {
            guard let p = all.first(where: { $0.name == name }) else {
                var message = "names '\(name)', which is not a valid pipeline of this directory"
                if let g = Suggest.closest(to: name, among: all.map(\.name)) { message += "; did you mean '\(g)'?" }
                issues.append(ConfigIssue(key: "pipelines", message: message))
                continue
            }
            if !(p.sinkConfiguration is PostgresConfiguration) {
                issues.append(ConfigIssue(key: "pipelines", message: "pipeline '\(name)' (\(p.file)) has no postgres sink: nothing to back up"))
            }
        }
        return issues
    }

    public static let sample = """
        type = "postgres_backup"
        folder = "/var/backups/sluice"
        keep_daily = 7
        keep_monthly = 12
        min_free_space = "2GiB"
        # url = "postgresql://backup@127.0.0.1:5432/plant"   # default: the databases the pipelines load
        # password_file = "/etc/sluice/backup.pw"
        """
}

/// A size in bytes written as `1073741824`, `"512MiB"`, `"2GiB"`, `"10GB"`.
public struct ByteCount: Decodable, Sendable, Hashable, CustomStringConvertible {
    public var bytes: Int64

    public init(_ bytes: Int64) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            guard n >= 0 else { throw ConfigIssue(key: "", message: "must not be negative") }
            bytes = n
            return
        }
        let text = try c.decode(String.self)
        guard let parsed = ByteCount(parsing: text) else {
            throw ConfigIssue(key: "", message: "expected a size such as \"512MiB\", \"2GiB\" or \"10GB\", found \"\(text)\"")
        }
        self = parsed
    }

    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
                                         ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v >= 0, v * factor < 9e18 else { return nil }
            bytes = Int64(v * factor)
            return
        }
        guard let v = Int64(t), v >= 0 else { return nil }
        bytes = v
    }

    public var description: String { ByteCount.format(bytes) }

    public static func format(_ bytes: Int64) -> String {
        let b = Double(bytes)
        if b >= 1_073_741_824 { return String(format: "%.1f GiB", b / 1_073_741_824) }
        if b >= 1_048_576 { return String(format: "%.1f MiB", b / 1_048_576) }
        if b >= 1024 { return String(format: "%.1f KiB", b / 1024) }
        return "\(bytes) B"
    }
}
