import Logging

/// The kinds of plugin a pipeline file can name.
public enum PluginKind: String, Sendable, CaseIterable {
    case source, decoder, transform, sink, job
}

/// A configuration type: decoded from a pipeline-file table (unknown keys rejected), and the
/// schema of that table. Every plugin has one.
public protocol PluginConfiguration: Decodable, Sendable {
    /// A working sample of the plugin's table body, shown by `sluice sample TYPE` and in its README.
    static var sample: String { get }
    /// Checks what decoding cannot (ranges, combinations); throws a `ConfigIssue` naming the key.
    func validate() throws
}

extension PluginConfiguration {
    public func validate() throws {}
}

/// What a plugin factory gets besides its configuration.
public struct PluginBuildContext: Sendable {
    public var pipeline: String
    /// The pipeline file, for messages.
    public var configFile: String
    /// Relative paths in a pipeline file are resolved against this directory.
    public var baseDirectory: String
    public var stateDirectory: String
    public var logger: Logger
    /// The host this pipeline reads, when its file lists `hosts` (one pipeline per host).
    public var host: String?

    public init(pipeline: String, configFile: String, baseDirectory: String, stateDirectory: String, logger: Logger) {
        self.pipeline = pipeline
        self.configFile = configFile
        self.baseDirectory = baseDirectory
        self.stateDirectory = stateDirectory
        self.logger = logger
    }

    /// `path` made absolute against `baseDirectory`.
    public func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || path == "-" { return path }
        var p = path
        while p.hasPrefix("./") { p.removeFirst(2) }
        return baseDirectory.hasSuffix("/") ? baseDirectory + p : baseDirectory + "/" + p
    }
}

/// A built plugin.
public enum PluginInstance: Sendable {
    case source(any Source)
    case decoder(any RecordDecoder)
    case transform(any Transform)
    case sink(any Sink)
    case job(any Job)
}

/// One registered plugin: its pipeline-file `type`, its configuration type and its factory.
public struct PluginDescriptor: Sendable {
    public let kind: PluginKind
    public let type: String
    public let summary: String
    public let sample: String
    /// For sources: whether it emits raw bytes (and so needs a decoder as its first transform).
    public let producesBytes: Bool
    let decodeAndValidate: @Sendable (ConfigNode, ConfigDecoding) throws -> any PluginConfiguration
    let make: @Sendable (any PluginConfiguration, PluginBuildContext) throws -> PluginInstance
    /// For jobs: checks the configuration against the directory's pipelines.
    let checkAgainstPipelines: (@Sendable (any PluginConfiguration, [PipelineSummary]) -> [ConfigIssue])?

    init<C: PluginConfiguration>(kind: PluginKind, type: String, summary: String, configuration: C.Type, producesBytes: Bool = false,
                                 checkAgainstPipelines: (@Sendable (any PluginConfiguration, [PipelineSummary]) -> [ConfigIssue])? = nil,
                                 make: @escaping @Sendable (C, PluginBuildContext) throws -> PluginInstance) {
        self.checkAgainstPipelines = checkAgainstPipelines
        self.kind = kind
        self.producesBytes = producesBytes
        self.type = type
        self.summary = summary
        sample = C.sample
        decodeAndValidate = { node, decoding in
            let config = try decoding.decode(C.self, from: node)
            do { try config.validate() } catch let issue as ConfigIssue {
                throw decoding.error(at: node, relative: issue.key, issue.message)
            }
            return config
        }
        self.make = { config, context in try make(config as! C, context) }
    }

    public static func source<C: PluginConfiguration>(_ type: String, _ configuration: C.Type, summary: String, producesBytes: Bool = true,
                                                     make: @escaping @Sendable (C, PluginBuildContext) throws -> any Source) -> PluginDescriptor {
        PluginDescriptor(kind: .source, type: type, summary: summary, configuration: configuration, producesBytes: producesBytes) { .source(try make($0, $1)) }
    }

    public static func decoder<C: PluginConfiguration>(_ type: String, _ configuration: C.Type, summary: String,
                                                      make: @escaping @Sendable (C, PluginBuildContext) throws -> any RecordDecoder) -> PluginDescriptor {
        PluginDescriptor(kind: .decoder, type: type, summary: summary, configuration: configuration) { .decoder(try make($0, $1)) }
    }

    public static func transform<C: PluginConfiguration>(_ type: String, _ configuration: C.Type, summary: String,
                                                        make: @escaping @Sendable (C, PluginBuildContext) throws -> any Transform) -> PluginDescriptor {
        PluginDescriptor(kind: .transform, type: type, summary: summary, configuration: configuration) { .transform(try make($0, $1)) }
    }

    public static func sink<C: PluginConfiguration>(_ type: String, _ configuration: C.Type, summary: String,
                                                   make: @escaping @Sendable (C, PluginBuildContext) throws -> any Sink) -> PluginDescriptor {
        PluginDescriptor(kind: .sink, type: type, summary: summary, configuration: configuration) { .sink(try make($0, $1)) }
    }

    public static func job<C: JobConfiguration>(_ type: String, _ configuration: C.Type, summary: String,
                                               make: @escaping @Sendable (C, PluginBuildContext) throws -> any Job) -> PluginDescriptor {
        PluginDescriptor(kind: .job, type: type, summary: summary, configuration: configuration,
                         checkAgainstPipelines: { config, pipelines in (config as! C).check(against: pipelines) }) { .job(try make($0, $1)) }
    }

    /// Problems of a job's configuration found against the directory's pipelines.
    public func check(_ configuration: any PluginConfiguration, against pipelines: [PipelineSummary]) -> [ConfigIssue] {
        checkAgainstPipelines?(configuration, pipelines) ?? []
    }

    /// Decodes and validates `node` (the plugin's table, `type` included) into this plugin's configuration.
    public func configure(_ node: ConfigNode, file: String) throws(ConfigError) -> any PluginConfiguration {
        let decoding = ConfigDecoding(file: file, ignoredKeys: ["type"])
        do { return try decodeAndValidate(node, decoding) } catch let e as ConfigError { throw e } catch {
            throw ConfigError(file: file, line: node.line, keyPath: ConfigNode.render(node.path), message: "\(error)")
        }
    }

    public func build(_ configuration: any PluginConfiguration, context: PluginBuildContext) throws -> PluginInstance {
        try make(configuration, context)
    }
}

/// Maps a pipeline file's `type` to a plugin. Built-ins are listed in one file, one line each;
/// a custom runner adds its own descriptors.
/// A plugin whose type name is already taken where it would be written.
public struct DuplicatePluginError: Error, Sendable, CustomStringConvertible {
    public var type: String
    public var kind: PluginKind
    public var existing: PluginKind

    public var description: String {
        "a \(existing.rawValue) plugin named '\(type)' is already registered; the \(kind.rawValue) '\(type)' needs another name"
    }
}

public struct PluginRegistry: Sendable {
    public private(set) var descriptors: [PluginDescriptor] = []

    /// A registry of `descriptors`; a type name given twice is an error (see `register`).
    public init(_ descriptors: [PluginDescriptor] = []) throws(DuplicatePluginError) {
        for d in descriptors { try register(d) }
    }

    /// Adds a plugin (a package's own connector beside the built-in ones). Two plugins written in
    /// the same place may not share a type name: sources, sinks and jobs each have their own
    /// names; decoders and transforms share theirs (both are `[[transform]]`).
    public mutating func register(_ descriptor: PluginDescriptor) throws(DuplicatePluginError) {
        func place(_ k: PluginKind) -> PluginKind { k == .decoder ? .transform : k }
        if let other = descriptors.first(where: { place($0.kind) == place(descriptor.kind) && $0.type == descriptor.type }) {
            throw DuplicatePluginError(type: descriptor.type, kind: descriptor.kind, existing: other.kind)
        }
        descriptors.append(descriptor)
    }

    /// This registry with `more` added.
    public func adding(_ more: [PluginDescriptor]) throws(DuplicatePluginError) -> PluginRegistry {
        var r = self
        for d in more { try r.register(d) }
        return r
    }

    public func descriptor(kind: PluginKind, type: String) -> PluginDescriptor? {
        descriptors.first { $0.kind == kind && $0.type == type }
    }

    /// Plugins usable where `[[transform]]` is written: decoders and transforms.
    public func transformStep(type: String) -> PluginDescriptor? {
        descriptor(kind: .decoder, type: type) ?? descriptor(kind: .transform, type: type)
    }

    public func types(of kinds: PluginKind...) -> [String] {
        descriptors.filter { kinds.contains($0.kind) }.map(\.type)
    }
}
