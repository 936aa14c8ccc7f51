import ConnectorKit
import CoreMetrics
import Foundation
import Logging
import PipelineLoader

/// What a (re)load of connectors.d did.
public struct ReloadResult: Sendable, Codable, Equatable {
    /// Reloads since the daemon started (0: the load at start).
    public var number: Int
    public var date: Date
    public var added: [String]
    public var removed: [String]
    public var changed: [String]
    /// Files that did not load or build; a file that worked before keeps its old version running.
    public var errors: [String]
    /// Everything scheduled after this load.
    public var scheduled: [String] = []

    public var succeeded: Bool { errors.isEmpty }

    public var summary: String {
        var parts: [String] = []
        if !added.isEmpty { parts.append("added \(added.joined(separator: ", "))") }
        if !removed.isEmpty { parts.append("removed \(removed.joined(separator: ", "))") }
        if !changed.isEmpty { parts.append("changed \(changed.joined(separator: ", "))") }
        if parts.isEmpty { parts.append("nothing changed") }
        if !errors.isEmpty { parts.append("\(errors.count) error(s)") }
        return parts.joined(separator: "; ")
    }
}

/// Loads connectors.d into the scheduler, and again on every reload: validate → build → swap.
/// Added, removed and changed pipelines take effect without touching the others; a file that no
/// longer loads or builds is reported and its previous version keeps running.
public actor ConfigurationReloader {
    public nonisolated let scheduler: Scheduler
    let directory: String
    let stateDirectory: String
    let loader: PipelineFileLoader
    let checkpointStores: CheckpointStores
    let logger: Logger
    /// The works of each file at the last load, to keep when the file breaks.
    private var current: [String: (work: any ScheduledWork, fingerprint: String)] = [:]
    private var fileOf: [String: String] = [:]
    public private(set) var lastResult: ReloadResult?

    /// `loader` carries the plugin registry: the built-ins, and those of a package building its own sluice.
    /// `checkpointStores`: where pipelines keep their checkpoints (default: the state folder).
    public init(directory: String, stateDirectory: String, loader: PipelineFileLoader, scheduler: Scheduler, logger: Logger,
                checkpointStores: CheckpointStores? = nil) {
        self.directory = directory
        self.loader = loader
        self.checkpointStores = checkpointStores ?? CheckpointStores(stateDirectory: stateDirectory)
        self.stateDirectory = stateDirectory
        self.scheduler = scheduler
        self.logger = logger
    }

    /// Where the last result is written, for `sluice reload` to read.
    public static func resultPath(stateDirectory: String) -> String { stateDirectory + "/.daemon/last-reload.json" }

    /// Loads the directory and applies it. Returns what changed.
    @discardableResult
    public func reload() async -> ReloadResult {
        let (loadedPipelines, loadedJobs, configErrors) = loader.loadDirectory(directory)
        var errors = configErrors.map { "\($0)" }
        var brokenFiles = Set(configErrors.map(\.file))
        var wanted: [String: (work: any ScheduledWork, fingerprint: String, file: String)] = [:]
        let groups = Dictionary(grouping: loadedPipelines.filter { $0.group != nil }, by: { $0.group! }).mapValues { $0.map(\.name) }
        // `after` may name a multi-host pipeline: it then waits for every one of its hosts.
        func expanded(_ settings: PipelineSettings) -> PipelineSettings {
            var s = settings
            s.after = settings.after.flatMap { groups[$0] ?? [$0] }
            return s
        }
        let pipelines = loadedPipelines.map { p in
            var p = p
            p.settings = expanded(p.settings)
            return p
        }
        let jobs = loadedJobs.map { j in
            var j = j
            j.settings = expanded(j.settings)
            return j
        }

        // (An `after` naming nothing here is a load error: the loader leaves that file out.)
        func scheduled(_ name: String, _ settings: PipelineSettings, file: String) -> Bool {
            settings.schedule != .manual || !settings.after.isEmpty
        }
        for definition in pipelines where scheduled(definition.name, definition.settings, file: definition.file) {
            let fingerprint = Self.fingerprint(definition.file)
            if let old = current[definition.name], old.fingerprint == fingerprint {
                wanted[definition.name] = (old.work, fingerprint, definition.file) // unchanged: keep the running work
                continue
            }
            do {
                let store = try checkpointStores.store(for: definition)
                let pipeline = try definition.build(stateDirectory: stateDirectory, logger: logger)
                wanted[definition.name] = (PipelineWork(definition: definition, pipeline: pipeline, checkpointStore: store,
                                                                        deadLetterKey: checkpointStores.deadLetterKey, logger: logger),
                                           fingerprint, definition.file)
            } catch {
                errors.append("\(definition.file): \(error)")
                brokenFiles.insert(definition.file)
            }
        }
        // A job reads the pipelines' definitions: it starts again when any of them changes.
        let pipelineFiles = pipelines.map { Self.fingerprint($0.file) }.joined(separator: "\u{0}")
        for job in jobs where scheduled(job.name, job.settings, file: job.file) {
            wanted[job.name] = (JobWork(job: job, pipelines: pipelines, stateDirectory: stateDirectory, logger: logger),
                                Self.fingerprint(job.file) + "\u{0}" + pipelineFiles, job.file)
        }
        // A broken file that worked before keeps its old version.
        for (name, old) in current where wanted[name] == nil {
            if let file = fileOf[name], brokenFiles.contains(file) {
                wanted[name] = (old.work, old.fingerprint, file)
                logger.warning("keeping the running version: its file has errors", metadata: ["pipeline": "\(name)", "file": "\(file)"])
            }
        }

        let before = current
        let added = wanted.keys.filter { before[$0] == nil }.sorted()
        let removed = before.keys.filter { wanted[$0] == nil }.sorted()
        let changed = wanted.keys.filter { before[$0] != nil && before[$0]!.fingerprint != wanted[$0]!.fingerprint }.sorted()
        await scheduler.apply(wanted.values.map { ($0.work, $0.fingerprint) })
        current = wanted.mapValues { ($0.work, $0.fingerprint) }
        fileOf = wanted.mapValues(\.file)

        let result = ReloadResult(number: (lastResult?.number).map { $0 + 1 } ?? 0, date: Date(), added: lastResult == nil ? [] : added,
                                  removed: removed, changed: changed, errors: errors, scheduled: wanted.keys.sorted())
        lastResult = result
        if result.number > 0 { Counter(label: "sluice_reloads_total", dimensions: [("result", result.succeeded ? "ok" : "error")]).increment() }
        for e in errors { logger.error("\(e)") }
        if result.number > 0 { logger.notice("configuration reloaded: \(result.summary)") }
        save(result)
        return result
    }

    /// The scheduled names.
    public var names: [String] { current.keys.sorted() }

    private func save(_ result: ReloadResult) {
        let path = Self.resultPath(stateDirectory: stateDirectory)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(result) else { return }
        do {
            try FileUtilities.writeAtomically(Array(data), to: path)
        } catch {
            logger.warning("cannot record the reload result at \(path): \(error)")
        }
    }

    public static func readResult(stateDirectory: String) -> ReloadResult? {
        guard let data = FileManager.default.contents(atPath: resultPath(stateDirectory: stateDirectory)) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(ReloadResult.self, from: data)
    }

    /// The file's content: a changed file is a changed work.
    static func fingerprint(_ file: String) -> String {
        (try? String(contentsOfFile: file, encoding: .utf8)) ?? file
    }
}
