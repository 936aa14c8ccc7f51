import ConnectorKit

/// `type = "exec"`, as a source or a sink: a program that speaks the JSON-lines protocol of
/// README.md on its standard input and output, started for each run.
public struct ExecConfiguration: PluginConfiguration {
    /// The program and its arguments, no shell: `["python3", "reader.py", "--db", "/srv/mes.db"]`.
    /// Relative paths in it stay as written; `directory` sets where they are resolved.
    public var command: [String]
    /// Added to its environment (secrets: `"${VAR}"`, never in `command`, which `ps` shows).
    public var environment: [String: String] = [:]
    /// Its working directory; default the pipeline file's folder.
    public var directory: String?
    /// The longest the program may stay silent when Sluice waits for it (or not take its input).
    public var timeout = ConfigDuration(seconds: 60)
    /// How long it has to exit after its input is closed at the end of a run.
    public var shutdownTimeout = ConfigDuration(seconds: 10)

    enum CodingKeys: String, CodingKey {
        case command, environment, directory, timeout
        case shutdownTimeout = "shutdown_timeout"
    }

    public init(command: [String]) { self.command = command }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        command = try c.decode([String].self, forKey: .command)
        environment = try c.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        directory = try c.decodeIfPresent(String.self, forKey: .directory)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        shutdownTimeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .shutdownTimeout) ?? shutdownTimeout
    }

    public func validate() throws {
        if command.first?.isEmpty ?? true { throw ConfigIssue(key: "command", message: "name the program, e.g. [\"python3\", \"reader.py\"]") }
        if timeout.seconds <= 0 { throw ConfigIssue(key: "timeout", message: "must be more than 0s") }
    }

    public static let sample = """
        type = "exec"
        command = ["python3", "/opt/plant/mes_plugin.py", "--db", "/srv/mes/events.db"]
        environment = { MES_TOKEN = "${MES_TOKEN}" }
        timeout = "60s"
        """
}
