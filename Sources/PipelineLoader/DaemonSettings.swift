import ConnectorKit
import Foundation

/// `sluice.toml`, the daemon's own settings (pipelines live in connectors.d):
///
/// ```toml
/// [daemon]
/// listen = "127.0.0.1:9430"      # status page, /metrics, /health, /ready, /api; "off" for none
/// max_concurrent_runs = 4
/// log_format = "logfmt"          # or "json", or "text" (the default)
///
/// [daemon.on_failure]            # for every pipeline and job without an on_failure of its own
/// webhook = "http://127.0.0.1:9000/alerts"
///
/// [daemon.cluster]               # several daemons sharing the pipeline files: each run happens once
/// url = "postgresql://sluice@db.plant.local/plant"
/// password = "${SLUICE_CLUSTER_PASSWORD}"
/// node = "line-a"                # how other daemons name this one (default: host name and pid)
/// ```
public struct DaemonSettings: Sendable, Equatable {
    public var listen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9430)
    public var maxConcurrentRuns = 4
    public var logFormat: LogFormat?
    public var onFailure: AlertSettings?
    public var cluster: ClusterSettings?

    /// The PostgreSQL database that daemons sharing the pipeline files coordinate through: an
    /// advisory lock per run, the last successful start of each work, and the checkpoints of
    /// pipelines with `state = "postgres"`.
    public struct ClusterSettings: Sendable, Equatable, Decodable {
        /// `postgresql://user@host:port/db` or `host=… dbname=…` (no password in it).
        public var url: String
        public var password: Secret?
        public var passwordFile: String?
        public var node: String?
        public var connectTimeout: ConfigDuration = ConfigDuration(seconds: 10)

        enum CodingKeys: String, CodingKey {
            case url, password, node
            case passwordFile = "password_file"
            case connectTimeout = "connect_timeout"
        }

        public init(url: String, node: String? = nil) {
            self.url = url
            self.node = node
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decode(String.self, forKey: .url)
            password = try c.decodeIfPresent(Secret.self, forKey: .password)
            passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
            node = try c.decodeIfPresent(String.self, forKey: .node)
            connectTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .connectTimeout) ?? connectTimeout
            if url.isEmpty { throw ConfigIssue(key: "url", message: "must be a postgresql:// URL or a key=value connection string") }
            try PasswordSetting.rejectPasswordInURL(url)
            try PasswordSetting.validate(password, file: passwordFile)
            if let node, node.isEmpty || node.count > 48 { throw ConfigIssue(key: "node", message: "must be 1 to 48 characters") }
        }

        /// The password from `password` or the first line of `password_file` (relative to
        /// sluice.toml's folder); nil lets libpq use ~/.pgpass.
        public func resolvedPassword(settingsFile: String) throws -> String? {
            if let password { return password.value }
            guard let passwordFile else { return nil }
            let path = passwordFile.hasPrefix("/") ? passwordFile
                : URL(fileURLWithPath: settingsFile).deletingLastPathComponent().appendingPathComponent(passwordFile).path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError(file: settingsFile, line: nil, keyPath: "daemon.cluster.password_file", message: "cannot read \(path)")
            }
            return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        }
    }

    public init() {}

    /// `text` is swift-log's stream format, for people at a terminal; `logfmt` and `json` one
    /// event per line for journald, Loki or Elasticsearch.
    public enum LogFormat: String, Sendable, Codable, CaseIterable { case text, logfmt, json }

    /// Reads a settings file; a missing file gives the defaults.
    public static func load(file: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> DaemonSettings {
        guard FileManager.default.fileExists(atPath: file) else { return DaemonSettings() }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "", message: "cannot read the file as UTF-8 text")])
        }
        return try parse(text, file: file, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws(ConfigErrors) -> DaemonSettings {
        let root: ConfigNode
        do { root = try TOMLConversion.parse(text, file: file, environment: environment) } catch { throw ConfigErrors(errors: [error]) }
        var errors: [ConfigError] = []
        for key in root.keys where key != "daemon" {
            errors.append(ConfigError(file: file, line: root[key]?.line, keyPath: key, message: "unknown section '\(key)'; sluice.toml has [daemon] only (pipelines go in connectors.d)"))
        }
        var settings = DaemonSettings()
        if let node = root["daemon"] {
            do {
                let table = try ConfigDecoding(file: file).decode(DaemonTable.self, from: node)
                if let listen = table.listen { settings.listen = listen }
                settings.maxConcurrentRuns = table.maxConcurrentRuns ?? settings.maxConcurrentRuns
                settings.logFormat = table.logFormat
                settings.onFailure = table.onFailure
                settings.cluster = table.cluster
            } catch { errors.append(error) }
        }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        return settings
    }

    private struct DaemonTable: Decodable {
        var listen: ListenAddress??
        var maxConcurrentRuns: Int?
        var logFormat: LogFormat?
        var onFailure: AlertSettings?
        var cluster: ClusterSettings?

        enum CodingKeys: String, CodingKey {
            case listen, cluster
            case maxConcurrentRuns = "max_concurrent_runs"
            case logFormat = "log_format"
            case onFailure = "on_failure"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let text = try c.decodeIfPresent(String.self, forKey: .listen) {
                do { listen = .some(try ListenAddress.parse(text)) } catch { throw ConfigIssue(key: "listen", message: error.message) }
            }
            maxConcurrentRuns = try c.decodeIfPresent(Int.self, forKey: .maxConcurrentRuns)
            if let n = maxConcurrentRuns, !(1...256).contains(n) {
                throw ConfigIssue(key: "max_concurrent_runs", message: "must be between 1 and 256")
            }
            if let f = try c.decodeIfPresent(String.self, forKey: .logFormat) {
                guard let format = LogFormat(rawValue: f) else {
                    throw ConfigIssue(key: "log_format", message: "expected \"text\", \"logfmt\" or \"json\", found \"\(f)\"")
                }
                logFormat = format
            }
            onFailure = try AlertSettings.decode(from: c, forKey: .onFailure)
            do { cluster = try c.decodeIfPresent(ClusterSettings.self, forKey: .cluster) } catch let issue as ConfigIssue {
                throw ConfigIssue(key: ["cluster"] + issue.key, message: issue.message)
            }
        }
    }
}

/// Where the daemon's HTTP server listens: `host:port`, or nothing (`off`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public struct Invalid: Error { public var message: String }

    /// `127.0.0.1:9430`, `[::1]:9430`, `0.0.0.0:9430`; `off` (or an empty string) for no server.
    public static func parse(_ text: String) throws(Invalid) -> ListenAddress? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty || t == "off" || t == "none" { return nil }
        var host = ""
        var portText = ""
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":") else { throw Invalid(message: "expected [address]:port, found \"\(text)\"") }
            portText = String(rest.dropFirst())
        } else if let colon = t.lastIndex(of: ":"), !t[..<colon].contains(":") {
            host = String(t[..<colon])
            portText = String(t[t.index(after: colon)...])
        } else {
            throw Invalid(message: "expected host:port such as \"127.0.0.1:9430\", or \"off\"; found \"\(text)\"")
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw Invalid(message: "expected host:port with a port from 0 to 65535, such as \"127.0.0.1:9430\"; found \"\(text)\"")
        }
        return ListenAddress(host: host, port: port)
    }
}
