import ArgumentParser
import ConnectorKit
import PipelineLoader

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check every pipeline file without connecting to anything.")

    @OptionGroup var config: ConfigOptions

    func run() throws {
        let (pipelines, jobs, loadErrors, dir) = loadPipelines(config)
        let settings = try config.loadSettings()
        let errors = loadErrors + Self.sharedStateWithoutCluster(pipelines, settings: settings, settingsFile: config.resolvedSettingsFile)
        for e in errors { printError("error: \(e)") }
        if errors.isEmpty {
            let jobsText = jobs.isEmpty ? "" : " and \(jobs.count) job\(jobs.count == 1 ? "" : "s")"
            print("\(pipelines.count) pipeline\(pipelines.count == 1 ? "" : "s")\(jobsText) in \(dir): OK")
            if pipelines.isEmpty { printError("warning: no *.toml pipeline files in \(dir)") }
        } else {
            printError("\(errors.count) error\(errors.count == 1 ? "" : "s") in \(dir)")
            throw ExitCode(1)
        }
    }
}

extension Validate {
    /// `state = "postgres"` needs the cluster database of sluice.toml.
    static func sharedStateWithoutCluster(_ pipelines: [PipelineDefinition], settings: DaemonSettings, settingsFile: String) -> [ConfigError] {
        guard settings.cluster == nil else { return [] }
        var seen = Set<String>()
        return pipelines.filter { $0.settings.state == .postgres && seen.insert($0.file).inserted }.map { p in
            let text = (try? String(contentsOfFile: p.file, encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n", omittingEmptySubsequences: false)
                .firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("state") }.map { $0 + 1 }
            return ConfigError(file: p.file, line: line, keyPath: "pipeline.state",
                               message: "\"postgres\" keeps the checkpoint in the cluster's database, and \(settingsFile) has no [daemon.cluster] url")
        }
    }
}

struct ListPipelines: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the pipelines and what they connect.")

    @OptionGroup var config: ConfigOptions

    func run() throws {
        let (pipelines, jobs, errors, _) = loadPipelines(config)
        let rows = pipelines.map { p in
            [p.name, p.settings.schedule.description,
             ([p.source.descriptor.type] + p.transforms.map(\.descriptor.type) + [p.sink.descriptor.type]).joined(separator: " → "),
             p.file]
        } + jobs.map { j in
            [j.name, j.settings.schedule.description, "job: \(j.type)", j.file]
        }
        let header = ["NAME", "SCHEDULE", "FLOW", "FILE"]
        let widths = (0..<4).map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        for r in [header] + rows {
            print(r.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        for e in errors { printError("error: \(e)") }
        if !errors.isEmpty { throw ExitCode(1) }
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Print a sample configuration for a plugin type.")

    @Argument(help: "A plugin type, e.g. files, csv, schema, jsonl. Omit to list them.")
    var type: String?

    func run() throws {
        let registry = SluiceCLI.loader().registry
        guard let type else {
            let width = registry.descriptors.map(\.type.count).max() ?? 10
            for d in registry.descriptors { print("\(d.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(d.type.padding(toLength: width, withPad: " ", startingAt: 0))  \(d.summary)") }
            return
        }
        let matches = registry.descriptors.filter { $0.type == type }
        guard !matches.isEmpty else {
            printError("error: no plugin of type '\(type)' (known: \(registry.descriptors.map(\.type).joined(separator: ", ")))")
            throw ExitCode(1)
        }
        for d in matches {
            let header = switch d.kind {
            case .source: "[source]"
            case .decoder, .transform: "[[transform]]"
            case .sink: "[sink]"
            case .job: "[job]"
            }
            print("# \(d.summary)\n\(header)\n\(d.sample)")
        }
    }
}
