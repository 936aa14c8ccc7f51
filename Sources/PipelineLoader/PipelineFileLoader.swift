import ConnectorKit
import CoreConnectors
import Foundation

/// Reads pipeline files (`connectors.d/*.toml`) into validated definitions, without touching any server.
public struct PipelineFileLoader: Sendable {
    public let registry: PluginRegistry
    public let environment: [String: String]

    static let topLevelKeys = ["pipeline", "source", "transform", "sink", "job"]

    public init(registry: PluginRegistry, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.registry = registry
        self.environment = environment
    }

    /// The pipeline files of a directory, sorted by name.
    public static func pipelineFiles(in directory: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        return names.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Loads every file of `directory`; returns the good pipelines and jobs, and all errors.
    public func loadDirectory(_ directory: String) -> (pipelines: [PipelineDefinition], jobs: [JobDefinition], errors: [ConfigError]) {
        let files: [String]
        do { files = try Self.pipelineFiles(in: directory) } catch {
            return ([], [], [ConfigError(file: directory, line: nil, keyPath: "", message: "cannot read the configuration directory: \(error.localizedDescription)")])
        }
        var pipelines: [PipelineDefinition] = []
        var jobs: [JobDefinition] = []
        var errors: [ConfigError] = []
        var names: [String: String] = [:]
        for file in files {
            do {
                let loaded = try loadAny(file: file)
                var all = [loaded.name]
                if case let .hosts(_, members) = loaded { all += members.map(\.name) }
                if let clash = all.first(where: { names[$0] != nil }) {
                    errors.append(ConfigError(file: file, line: nil, keyPath: "pipeline.name", message: "name '\(clash)' is also used by \(names[clash]!)"))
                    continue
                }
                for n in all { names[n] = file }
                switch loaded {
                case let .pipeline(p): pipelines.append(p)
                case let .job(j): jobs.append(j)
                case let .hosts(_, members): pipelines.append(contentsOf: members)
                }
            } catch {
                errors.append(contentsOf: error.errors)
            }
        }
        for job in jobs { errors.append(contentsOf: job.crossCheck(pipelines)) }
        // `after` names pipelines or jobs of this folder (a multi-host pipeline by its own name).
        let known = Set(pipelines.map(\.name) + pipelines.compactMap(\.group) + jobs.map(\.name))
        func unknownUpstream(_ name: String, _ settings: PipelineSettings, _ file: String) -> Bool {
            guard let unknown = settings.after.first(where: { !known.contains($0) }) else { return false }
            var message = "'\(unknown)' is no valid pipeline or job of this folder; '\(name)' is not started"
            if let g = Suggest.closest(to: unknown, among: Array(known)) { message += "; did you mean '\(g)'?" }
            if !errors.contains(where: { $0.file == file && $0.keyPath == "pipeline.after" }) {
                errors.append(ConfigError(file: file, line: nil, keyPath: "pipeline.after", message: message))
            }
            return true
        }
        pipelines.removeAll { unknownUpstream($0.group ?? $0.name, $0.settings, $0.file) }
        jobs.removeAll { unknownUpstream($0.name, $0.settings, $0.file) }
        return (pipelines, jobs, errors)
    }

    /// A pipeline file, or a job file (`[job]` instead of source and sink).
    public enum LoadedFile: Sendable {
        case pipeline(PipelineDefinition)
        case job(JobDefinition)
        /// A pipeline with `hosts`: one definition per host, named `<name>@<host>`.
        case hosts(name: String, [PipelineDefinition])

        public var name: String {
            switch self {
            case let .pipeline(p): p.name
            case let .job(j): j.name
            case let .hosts(name, _): name
            }
        }
    }

    public func loadAny(file: String) throws(ConfigErrors) -> LoadedFile {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "", message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "", message: "the file is not UTF-8 text")])
        }
        return try loadAny(text: text, file: file)
    }

    public func load(file: String) throws(ConfigErrors) -> PipelineDefinition {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "", message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "", message: "the file is not UTF-8 text")])
        }
        return try load(text: text, file: file)
    }

    public func load(text: String, file: String) throws(ConfigErrors) -> PipelineDefinition {
        switch try loadAny(text: text, file: file) {
        case let .pipeline(p): return p
        case .job: throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "job", message: "this is a job file, not a pipeline")])
        case let .hosts(name, _):
            throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "source.hosts", message: "'\(name)' is one pipeline per host; load its directory")])
        }
    }

    public func loadAny(text: String, file: String) throws(ConfigErrors) -> LoadedFile {
        let root: ConfigNode
        var errors: [ConfigError] = []
        do { (root, errors) = try TOMLConversion.parseCollecting(text, file: file, environment: environment) } catch { throw ConfigErrors(errors: [error]) }
        // `hosts` in [source]: one pipeline per host, `{host}` replaced in every value.
        if let hosts = try HostList.read(root, file: file) {
            guard errors.isEmpty else { throw ConfigErrors(errors: errors) }
            var definitions: [PipelineDefinition] = []
            var all: [ConfigError] = []
            for host in hosts.hosts {
                do throws(ConfigErrors) {
                    guard case var .pipeline(p) = try loadRoot(hosts.substituted(root, for: host), file: file, errors: []) else {
                        throw ConfigErrors(errors: [ConfigError(file: file, line: nil, keyPath: "job", message: "a job file has no hosts")])
                    }
                    let group = p.name
                    p.group = group
                    p.host = host.name
                    p.name = group + "@" + host.name
                    definitions.append(p)
                } catch {
                    // The same mistake for every host is reported once.
                    for e in error.errors where !all.contains(where: { $0.line == e.line && $0.keyPath == e.keyPath }) { all.append(e) }
                }
            }
            if !all.isEmpty { throw ConfigErrors(errors: all) }
            if let shared = definitions.first.flatMap({ HostList.unsharedSink($0, root: root) }) { throw ConfigErrors(errors: [shared]) }
            return .hosts(name: definitions[0].group!, definitions)
        }
        let loaded = try loadRoot(root, file: file, errors: errors)
        if case let .pipeline(p) = loaded {
            for step in p.transforms {
                guard let schema = step.configuration as? SchemaConfiguration, let d = schema.derive.first(where: { $0.spec == .host }) else { continue }
                let keyPath = step.keyPath + ".derive." + d.name
                let line = root["transform"].flatMap { t -> Int? in
                    guard case let .array(items) = t.value else { return nil }
                    return items.lazy.compactMap { $0["derive"]?[d.name]?.line }.first
                }
                throw ConfigErrors(errors: [ConfigError(file: file, line: line, keyPath: keyPath, message: "\"host\" needs hosts (or hosts_file) in [source]: one pipeline per host")])
            }
        }
        return loaded
    }

    private func loadRoot(_ root: ConfigNode, file: String, errors: [ConfigError]) throws(ConfigErrors) -> LoadedFile {
        var errors = errors
        let decoding = ConfigDecoding(file: file)

        for key in root.keys where !Self.topLevelKeys.contains(key) {
            var msg = "unknown section '\(key)'"
            if let g = Suggest.closest(to: key, among: Self.topLevelKeys) { msg += "; did you mean '\(g)'?" }
            else { msg += "; a pipeline file has [pipeline], [source], [[transform]] and [sink]; a job file [pipeline] and [job]" }
            errors.append(ConfigError(file: file, line: root[key]?.line, keyPath: key, message: msg))
        }

        var settings = PipelineSettings()
        if let p = root["pipeline"] {
            do { settings = try decoding.decode(PipelineSettings.self, from: p) } catch { errors.append(error) }
        }
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let name = settings.name ?? stem
        if name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) || name.hasPrefix(".") {
            errors.append(ConfigError(file: file, line: root["pipeline"]?["name"]?.line, keyPath: "pipeline.name",
                                      message: "'\(name)' is not a valid pipeline name (letters, digits, '-', '_' and '.'; it names the state folder)"))
        }

        if let jobNode = root["job"] {
            for key in ["source", "transform", "sink"] where root[key] != nil {
                errors.append(ConfigError(file: file, line: root[key]?.line, keyPath: key, message: "a job file ([job]) has no [\(key)]; put the pipeline in a file of its own"))
            }
            if let step = step(jobNode, kind: .job, keyPath: "job", file: file, errors: &errors), errors.isEmpty {
                return .job(JobDefinition(file: file, name: name, settings: settings, step: step, line: jobNode.line))
            }
            throw ConfigErrors(errors: errors)
        }

        let source = step(root["source"], kind: .source, keyPath: "source", file: file, errors: &errors)
        var transforms: [PipelineStep] = []
        var transformFailed = false
        if let t = root["transform"] {
            if case let .array(items) = t.value {
                for (i, item) in items.enumerated() {
                    if let s = step(item, kind: .transform, keyPath: "transform[\(i)]", file: file, errors: &errors) { transforms.append(s) } else { transformFailed = true }
                }
            } else {
                errors.append(ConfigError(file: file, line: t.line, keyPath: "transform", message: "expected [[transform]] tables (an array of tables), found \(t.typeName)"))
            }
        }
        let sink = step(root["sink"], kind: .sink, keyPath: "sink", file: file, errors: &errors)

        // Ordering rules: one decoder, first, exactly when the source reads bytes.
        let decoders = transforms.enumerated().filter { $0.element.descriptor.kind == .decoder }
        if decoders.count > 1 {
            errors.append(ConfigError(file: file, line: nil, keyPath: decoders[1].element.keyPath, message: "only one decoder (csv or log) per pipeline"))
        } else if let d = decoders.first, d.offset != 0 {
            errors.append(ConfigError(file: file, line: nil, keyPath: d.element.keyPath, message: "the decoder must be the first [[transform]]"))
        }
        if let source, source.descriptor.producesBytes, decoders.isEmpty, !transformFailed {
            errors.append(ConfigError(file: file, line: root["source"]?.line, keyPath: "transform",
                                      message: "source type '\(source.descriptor.type)' reads files: the first [[transform]] must be a decoder (\(registry.types(of: .decoder).joined(separator: ", ")))"))
        }
        guard errors.isEmpty, let source, let sink else { throw ConfigErrors(errors: errors) }
        return .pipeline(PipelineDefinition(file: file, name: name, settings: settings, source: source, transforms: transforms, sink: sink))
    }

    private func step(_ node: ConfigNode?, kind: PluginKind, keyPath: String, file: String, errors: inout [ConfigError]) -> PipelineStep? {
        guard let node else {
            if kind != .transform {
                errors.append(ConfigError(file: file, line: nil, keyPath: keyPath, message: "missing required section [\(keyPath)]"))
            }
            return nil
        }
        guard case .table = node.value else {
            errors.append(ConfigError(file: file, line: node.line, keyPath: keyPath, message: "expected a table, found \(node.typeName)"))
            return nil
        }
        let known = kind == .transform ? registry.types(of: .decoder, .transform) : registry.types(of: kind)
        guard let typeNode = node["type"] else {
            errors.append(ConfigError(file: file, line: node.line, keyPath: keyPath + ".type",
                                      message: "missing required key 'type' (one of: \(known.joined(separator: ", ")))"))
            return nil
        }
        guard let type = typeNode.stringValue else {
            errors.append(ConfigError(file: file, line: typeNode.line, keyPath: keyPath + ".type", message: "expected a string, found \(typeNode.typeName)"))
            return nil
        }
        let descriptor = kind == .transform ? registry.transformStep(type: type) : registry.descriptor(kind: kind, type: type)
        guard let descriptor else {
            var msg = "unknown \(kind == .transform ? "transform" : kind.rawValue) type '\(type)'"
            if let g = Suggest.closest(to: type, among: known) { msg += "; did you mean '\(g)'?" }
            msg += " (known: \(known.joined(separator: ", ")))"
            errors.append(ConfigError(file: file, line: typeNode.line, keyPath: keyPath + ".type", message: msg))
            return nil
        }
        do {
            let config = try descriptor.configure(node, file: file)
            return PipelineStep(descriptor: descriptor, configuration: config, keyPath: keyPath)
        } catch {
            errors.append(error)
            return nil
        }
    }
}
