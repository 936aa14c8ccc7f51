import ConnectorKit
import Foundation
import Logging

/// When the daemon runs a pipeline or job.
public enum Schedule: Sendable, Equatable, CustomStringConvertible {
    /// Every N seconds (`"every 30s"`), measured from the end of the previous run; the first run
    /// starts with the daemon.
    case every(Double)
    /// Polls every N seconds (`"watch"` is every second, `"watch 500ms"`) for the lowest latency;
    /// a poll that finds nothing new is not logged.
    case watch(Double)
    /// A cron expression (`"30 23 * * *"`, `"@daily"`) in the pipeline's `timezone`; the first run
    /// waits for the first match (or catches up once, when a run was missed while the daemon was
    /// down).
    case cron(CronSchedule)
    /// Only by `sluice once` (or after an upstream pipeline, with `after`).
    case manual

    /// Parses `"every <duration>"`, `"watch [<duration>]"`, a five-field cron expression or macro,
    /// or `"manual"`.
    public static func parse(_ text: String, timeZone: TimeZone = .current) throws(ConfigIssue) -> Schedule {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "manual" || t == "never" { return .manual }
        if t == "watch" { return .watch(1) }
        for (word, make) in [("every ", Schedule.every), ("watch ", Schedule.watch)] where t.hasPrefix(word) {
            guard let d = ConfigDuration(parsing: String(t.dropFirst(word.count))), d.seconds > 0 else {
                throw ConfigIssue(key: "schedule", message: "'\(text)': expected \"\(word)<duration>\" such as \"\(word)30s\" or \"\(word)5m\"")
            }
            return make(d.seconds)
        }
        if t.hasPrefix("@") || t.split(whereSeparator: \.isWhitespace).count == 5 {
            do { return .cron(try CronSchedule(parsing: t, timeZone: timeZone)) } catch {
                throw ConfigIssue(key: "schedule", message: "'\(text)': \(error)")
            }
        }
        throw ConfigIssue(key: "schedule", message: "expected \"every <duration>\" (e.g. \"every 30s\"), \"watch\", a cron expression (e.g. \"30 23 * * *\" or \"@daily\") or \"manual\", found \"\(text)\"")
    }

    /// Seconds to wait before the next run; `lastRunEnded` is nil before the first run.
    public func delay(now: Date, lastRunEnded: Date?) -> Double? {
        switch self {
        case let .every(s), let .watch(s): return lastRunEnded.map { max(0, s - now.timeIntervalSince($0)) } ?? 0
        case let .cron(c): return c.next(after: now).map { max(0, $0.timeIntervalSince(now)) }
        case .manual: return nil
        }
    }

    /// `90s`, `15m`, `2h`, `1d`: the largest unit that divides it.
    static func duration(_ s: Double) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3600.0), ("m", 60.0)] where s >= size && s.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(s / size))\(unit)"
        }
        return "\(s.formatted())s"
    }

    public var description: String {
        switch self {
        case let .every(s): "every \(Self.duration(s))"
        case let .watch(s): "watch \(Self.duration(s))"
        case let .cron(c): "cron \(c) (\(c.timeZone.identifier))"
        case .manual: "manual"
        }
    }
}

/// The `[pipeline]` table.
public struct PipelineSettings: Decodable, Sendable {
    public var name: String?
    public var description: String?
    public var schedule: Schedule = .every(60)
    /// Records per batch between stages.
    public var batchRows: Int = 8192
    /// Commit at least every N records… (`nil`: the sink's proposal, else 500,000)
    public var commitRows: Int?
    /// …and at least this often (`nil`: the sink's proposal, else 5 s).
    public var commitInterval: ConfigDuration?
    /// Dead-letter file; default `<state-dir>/<name>/dead-letter.jsonl`.
    public var deadLetter: String?
    /// The longest wait between retries of a failing pipeline under `sluice run` (the waits double
    /// from 1 s up to this). Refused credentials still wait at least 5 minutes.
    public var retryMaxDelay: ConfigDuration = ConfigDuration(seconds: 300)
    /// Runs after each successful run of these pipelines (all of them, when several), e.g. a table
    /// whose foreign keys point at another pipeline's table. Without `schedule`, only then.
    public var after: [String] = []
    /// The time zone of a cron `schedule` (default: the machine's).
    public var timezone: TimeZone = .current
    /// Where to say that this pipeline started failing, became degraded or recovered.
    public var onFailure: AlertSettings?
    /// Where the engine keeps the checkpoint of a sink that does not keep its own (a PostgreSQL
    /// or MySQL sink always keeps it with its rows).
    public var state: StateLocation = .local

    public enum StateLocation: String, ConfigEnum {
        /// A file in the daemon's state folder.
        case local
        /// `sluice_checkpoints` in the cluster's PostgreSQL (`[daemon.cluster]` in sluice.toml),
        /// so that any daemon of the cluster can take the pipeline over.
        case postgres
    }

    enum CodingKeys: String, CodingKey {
        case name, description, schedule
        case batchRows = "batch_rows"
        case commitRows = "commit_rows"
        case commitInterval = "commit_interval"
        case deadLetter = "dead_letter"
        case retryMaxDelay = "retry_max_delay"
        case after, timezone, state
        case onFailure = "on_failure"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        if let zone = try c.decodeIfPresent(String.self, forKey: .timezone) {
            guard let tz = TimeZone(identifier: zone) else {
                throw ConfigIssue(key: "timezone", message: "unknown time zone '\(zone)' (use an IANA name such as \"Europe/Berlin\" or \"America/Sao_Paulo\")")
            }
            timezone = tz
        }
        after = try c.decodeIfPresent([String].self, forKey: .after) ?? []
        onFailure = try AlertSettings.decode(from: c, forKey: .onFailure)
        if let s = try c.decodeIfPresent(String.self, forKey: .schedule) {
            schedule = try Schedule.parse(s, timeZone: timezone)
        } else if !after.isEmpty {
            schedule = .manual
        }
        batchRows = try c.decodeIfPresent(Int.self, forKey: .batchRows) ?? batchRows
        commitRows = try c.decodeIfPresent(Int.self, forKey: .commitRows)
        commitInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .commitInterval)
        deadLetter = try c.decodeIfPresent(String.self, forKey: .deadLetter)
        retryMaxDelay = try c.decodeIfPresent(ConfigDuration.self, forKey: .retryMaxDelay) ?? retryMaxDelay
        state = try c.decodeIfPresent(StateLocation.self, forKey: .state) ?? .local
        if !(1...1_000_000).contains(batchRows) { throw ConfigIssue(key: "batch_rows", message: "must be between 1 and 1000000") }
        if let commitRows, commitRows < 1 { throw ConfigIssue(key: "commit_rows", message: "must be at least 1") }
    }
}

/// One configured plugin of a pipeline.
public struct PipelineStep: Sendable {
    public var descriptor: PluginDescriptor
    public var configuration: any PluginConfiguration
    /// Where it was written, for messages: `source`, `transform[1]`, `sink`.
    public var keyPath: String
}

/// A validated pipeline file: every plugin decoded and checked, nothing connected yet.
public struct PipelineDefinition: Sendable {
    public var file: String
    /// For one host of a multi-host pipeline, `<pipeline>@<host>`: its own checkpoint, state
    /// folder, schedule loop and status.
    public var name: String
    /// The pipeline's own name when this is one of its hosts (`hosts` in [source]).
    public var group: String?
    /// The host's name (the `host` derived column, the `host` label of metrics).
    public var host: String?
    public var settings: PipelineSettings
    public var source: PipelineStep
    public var transforms: [PipelineStep]
    public var sink: PipelineStep

    /// Instantiates the plugins.
    public func build(stateDirectory: String, logger: Logger) throws -> Pipeline {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var context = PluginBuildContext(pipeline: name, configFile: file, baseDirectory: base, stateDirectory: stateDirectory, logger: logger)
        context.host = host
        guard case let .source(source) = try source.descriptor.build(source.configuration, context: context) else {
            throw ConnectorError(.configuration, "source did not build a source", pipeline: name)
        }
        guard case let .sink(sink) = try sink.descriptor.build(sink.configuration, context: context) else {
            throw ConnectorError(.configuration, "sink did not build a sink", pipeline: name)
        }
        var decoder: (any RecordDecoder)?
        var decoderName = "decoder"
        var transforms: [(name: String, transform: any Transform)] = []
        for step in self.transforms {
            switch try step.descriptor.build(step.configuration, context: context) {
            case let .decoder(d): decoder = d; decoderName = step.descriptor.type
            case let .transform(t): transforms.append((step.descriptor.type, t))
            default: throw ConnectorError(.configuration, "\(step.keyPath) is not a transform", pipeline: name)
            }
        }
        let deadLetter = settings.deadLetter.map { context.resolve($0) } ?? "\(stateDirectory)/\(name)/dead-letter.jsonl"
        return Pipeline(name: name, source: source, decoder: decoder, decoderName: decoderName, transforms: transforms, sink: sink,
                        deadLetterPath: deadLetter, batchRows: settings.batchRows,
                        commitRows: settings.commitRows ?? sink.commitPolicy?.rows ?? CommitPolicy.standard.rows,
                        commitSeconds: settings.commitInterval?.seconds ?? sink.commitPolicy?.seconds ?? CommitPolicy.standard.seconds)
    }
}

/// Every error found in one or more pipeline files.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// `[pipeline.on_failure]`: an HTTP webhook (a JSON body) and/or a command, told once per change
/// of state (failing, degraded, recovered), never on every retry.
public struct AlertSettings: Decodable, Sendable, Equatable {
    /// `http://` or `https://` URL that receives a POST with a JSON body.
    public var webhook: String?
    /// A program and its arguments (no shell); the alert is in its environment
    /// (`SLUICE_PIPELINE`, `SLUICE_STATE`, `SLUICE_PREVIOUS_STATE`, `SLUICE_FAILURES`, `SLUICE_ERROR`)
    /// and, as JSON, on its standard input.
    public var command: [String]?
    /// How long one attempt may take.
    public var timeout: ConfigDuration = ConfigDuration(seconds: 10)

    enum CodingKeys: String, CodingKey { case webhook, command, timeout }

    /// Decodes the `on_failure` table under `key`, naming its keys from the enclosing table in
    /// errors (`pipeline.on_failure.webhook`, not `pipeline.webhook`).
    static func decode<K: CodingKey>(from container: KeyedDecodingContainer<K>, forKey key: K) throws -> AlertSettings? {
        do {
            return try container.decodeIfPresent(AlertSettings.self, forKey: key)
        } catch let issue as ConfigIssue {
            throw ConfigIssue(key: [key.stringValue] + issue.key, message: issue.message)
        }
    }

    public init(webhook: String? = nil, command: [String]? = nil) {
        self.webhook = webhook
        self.command = command
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        webhook = try c.decodeIfPresent(String.self, forKey: .webhook)
        command = try c.decodeIfPresent([String].self, forKey: .command)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        if webhook == nil && command == nil {
            throw ConfigIssue(key: "webhook", message: "on_failure needs a webhook, a command, or both")
        }
        if let w = webhook, !(w.hasPrefix("http://") || w.hasPrefix("https://")) || URL(string: w)?.host == nil {
            throw ConfigIssue(key: "webhook", message: "expected an http:// or https:// URL, found \"\(w)\"")
        }
        if let cmd = command, cmd.isEmpty || cmd[0].isEmpty {
            throw ConfigIssue(key: "command", message: "expected a program and its arguments, e.g. [\"/usr/local/bin/notify\", \"--team\", \"plant\"]")
        }
    }
}
