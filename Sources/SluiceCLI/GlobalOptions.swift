import ArgumentParser
import ConnectorKit
import Connectors
import Foundation
import Logging
import PipelineLoader
import SluiceRuntime

extension DaemonSettings.LogFormat: ExpressibleByArgument {}

/// Options every command that reads pipeline files takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config-dir"), help: "Folder of pipeline files (default: /etc/sluice/connectors.d if it exists, else ./connectors.d).")
    var configDirectory: String?

    @Option(name: .customLong("settings"), help: "The daemon's settings file (default: sluice.toml beside the config folder, e.g. /etc/sluice/sluice.toml).")
    var settingsFile: String?

    var resolvedSettingsFile: String {
        settingsFile ?? URL(fileURLWithPath: resolvedConfigDirectory).deletingLastPathComponent().appendingPathComponent("sluice.toml").path
    }

    /// sluice.toml, or the defaults when there is none; errors are printed with file, line and key.
    func loadSettings() throws -> DaemonSettings {
        do { return try DaemonSettings.load(file: resolvedSettingsFile) } catch {
            for e in error.errors { printError("error: \(e)") }
            throw ExitCode(1)
        }
    }

    var resolvedConfigDirectory: String {
        if let configDirectory { return configDirectory }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/etc/sluice/connectors.d", isDirectory: &isDir), isDir.boolValue {
            return "/etc/sluice/connectors.d"
        }
        return "connectors.d"
    }
}

struct RunOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "Folder for checkpoints and dead letters (default: $SLUICE_STATE_DIR, else /var/lib/sluice if it exists, else ./.sluice-state).")
    var stateDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .customLong("log-format"), help: "text (default), logfmt or json: one event per line for journald, Loki or Elasticsearch.")
    var logFormat: DaemonSettings.LogFormat?

    var resolvedStateDirectory: String {
        if let stateDirectory { return stateDirectory }
        if let env = ProcessInfo.processInfo.environment["SLUICE_STATE_DIR"], !env.isEmpty { return env }
        if FileManager.default.isWritableFile(atPath: "/var/lib/sluice") { return "/var/lib/sluice" }
        return FileManager.default.currentDirectoryPath + "/.sluice-state"
    }

    /// `fallback`: the format from sluice.toml, used when no `--log-format` is given.
    func makeLogger(label: String = "sluice", fallback: DaemonSettings.LogFormat? = nil) -> Logger {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        LoggingBootstrap.once(level: level, format: logFormat ?? fallback ?? .text)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) private static var done = false // set once from the main task before any logging
    static func once(level: Logger.Level, format: DaemonSettings.LogFormat) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            case .logfmt: return LineLogHandler(label: label, format: .logfmt, level: level)
            case .json: return LineLogHandler(label: label, format: .json, level: level)
            }
        }
    }
}

/// Loads a directory, printing errors in the `file:line: key: message` form.
func loadPipelines(_ options: ConfigOptions) -> (pipelines: [PipelineDefinition], jobs: [JobDefinition], errors: [ConfigError], directory: String) {
    let dir = options.resolvedConfigDirectory
    let (pipelines, jobs, errors) = SluiceCLI.loader().loadDirectory(dir)
    return (pipelines, jobs, errors, dir)
}

/// The valid pipeline `name` of the config folder; otherwise the folder's errors and a line
/// saying it has none, on standard error, and exit status 1.
func pipelineDefinition(named name: String, config: ConfigOptions) throws -> PipelineDefinition {
    let (pipelines, _, errors, dir) = loadPipelines(config)
    guard let definition = pipelines.first(where: { $0.name == name }) else {
        for e in errors { printError("error: \(e)") }
        printError("error: no valid pipeline named '\(name)' in \(dir)")
        throw ExitCode(1)
    }
    return definition
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
